import { Controller, Get, Inject, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { DomainException } from '../../common/errors/domain.exception.js';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { Public } from '../../common/auth/public.decorator.js';
import { normalizeIdentifier } from '../auth/identifier.js';
import { DEV_OUTBOX, type DevOutbox } from '../notifications/message-sender.port.js';

const OutboxQuerySchema = z.strictObject({
  to: z.string().trim().min(3).max(254).describe('phone or e-mail, as typed'),
});

const OutboxSchema = z
  .object({
    items: z.array(
      z.object({
        channel: z.enum(['SMS', 'EMAIL']),
        to: z.string(),
        template: z.string(),
        subject: z.string().optional(),
        text: z.string(),
        params: z.record(z.string(), z.string()),
        sentAt: z.iso.datetime(),
      }),
    ),
  })
  .meta({ id: 'DevOutbox' });

/**
 * Messages the console channel "sent", newest first, so a person or an automated
 * test can read a code without a phone. Exists only with the console channel and
 * outside production (the module is not mounted otherwise), and answers only requests
 * from this machine (loopback); others get 404.
 */
@ApiTags('dev')
@Public()
@Controller('dev')
export class DevOutboxController {
  constructor(@Inject(DEV_OUTBOX) private readonly outbox: DevOutbox) {}

  @Get('outbox')
  @ApiOperation({
    summary: 'Messages sent through the console channel (development only)',
    operationId: 'readDevOutbox',
  })
  @ApiResponse({ status: 200, standardSchema: OutboxSchema })
  read(@Req() request: FastifyRequest, @Query({ schema: OutboxQuerySchema }) query: z.infer<typeof OutboxQuerySchema>) {
    // The codes in it sign anyone in: only this machine may read them, even when the API
    // listens on every interface for a phone on the LAN.
    if (!isLoopback(request.ip)) throw new DomainException('ROUTE_NOT_FOUND', 'No route matches this request.');
    return { items: this.outbox.list(normalizeIdentifier(query.to, 'to').value) };
  }
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped form. */
export function isLoopback(ip: string): boolean {
  return ip === '::1' || /^(::ffff:)?127\./.test(ip);
}
