import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/auth/public.decorator.js';
import { LivenessSchema, ReadinessSchema } from './health.dto.js';
import { HealthService } from './health.service.js';

@ApiTags('health')
@Public()
@Controller({ path: 'health' })
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers', operationId: 'getLiveness' })
  @ApiResponse({ status: 200, standardSchema: LivenessSchema })
  live() {
    return this.health.live();
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: the database (and later Redis, storage) answer', operationId: 'getReadiness' })
  @ApiResponse({ status: 200, standardSchema: ReadinessSchema })
  @ApiResponse({ status: 503, description: 'Not ready (problem+json, code NOT_READY)' })
  ready() {
    return this.health.ready();
  }
}
