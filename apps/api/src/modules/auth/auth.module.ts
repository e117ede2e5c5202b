import { Module } from '@nestjs/common';
import { CreditsModule } from '../credits/credits.module.js';
import { UsersModule } from '../users/users.module.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';

/** `/auth/*`: one-time-code sign-in and sign-up, refresh, sign-out, sessions. */
@Module({ imports: [UsersModule, CreditsModule], controllers: [AuthController], providers: [AuthService] })
export class AuthModule {}
