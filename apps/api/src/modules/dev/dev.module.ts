import { Module } from '@nestjs/common';
import { DevOutboxController } from './dev-outbox.controller.js';

/** Development-only routes; mounted only when the console message channel is active and NODE_ENV is not production. */
@Module({ controllers: [DevOutboxController] })
export class DevModule {}
