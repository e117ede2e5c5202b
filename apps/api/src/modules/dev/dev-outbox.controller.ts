import { Controller, Get, Inject, Query } from '@nestjs/common';
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
 * outside production (the module is not mounted otherwise).
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
  read(@Query({ schema: OutboxQuerySchema }) query: z.infer<typeof OutboxQuerySchema>) {
    return { items: this.outbox.list(normalizeIdentifier(query.to, 'to').value) };
  }
}
