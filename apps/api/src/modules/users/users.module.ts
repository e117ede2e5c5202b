import { Module } from '@nestjs/common';
import { UsersRepository } from './users.repository.js';
import { UsersService } from './users.service.js';

/** Accounts, profiles and platform roles. Exports its service only (CONVENTIONS #2). */
@Module({ providers: [UsersRepository, UsersService], exports: [UsersService] })
export class UsersModule {}
