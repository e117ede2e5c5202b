import { Controller, Get, Header, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import { UuidParamSchema } from '../../common/http/params.js';
import { REPORT_EXPORT_FORMATS } from '../reports/report.types.js';
import { ExportQuerySchema, ReportViewSchema, type ExportQueryDto } from './report.dto.js';
import { ReportService } from './report.service.js';

/** The inventory report of a session and its exports (DESIGN.md "API surface"). */
@ApiTags('inventory')
@ApiBearerAuth()
@Controller('inventory-sessions')
export class ReportController {
  constructor(private readonly reports: ReportService) {}

  @Get(':id/report')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    summary: 'The inventory report: lines with product, quantity, confidence, review flag and evidence frame',
    description:
      'Corrected values replace the pipeline’s in `quantity`/`name`; the originals stay in `originalQuantity`. ' +
      'Evidence URLs are signed and expire. 404 NOT_FOUND for an unknown or foreign session; 409 REPORT_NOT_READY ' +
      'before READY.',
    operationId: 'getInventoryReport',
  })
  @ApiResponse({ status: 200, standardSchema: ReportViewSchema })
  getInventoryReport(@CurrentUser() user: AuthenticatedUser, @Param('id', { schema: UuidParamSchema }) id: string) {
    return this.reports.view(user.userId, id);
  }

  @Get(':id/export')
  @Header('cache-control', 'private, no-store')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiQuery({ name: 'format', required: true, enum: [...REPORT_EXPORT_FORMATS] })
  @ApiProduces('text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'application/pdf')
  @ApiOperation({
    summary: 'Download the report in Spanish as CSV (UTF-8 with BOM), XLSX or PDF',
    description: '404 NOT_FOUND for an unknown or foreign session; 409 REPORT_NOT_READY before READY.',
    operationId: 'exportInventoryReport',
  })
  @ApiResponse({ status: 200, description: 'the file, as an attachment' })
  async exportInventoryReport(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', { schema: UuidParamSchema }) id: string,
    @Query({ schema: ExportQuerySchema }) query: ExportQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer> {
    const file = await this.reports.export(user.userId, id, query.format);
    void reply.header('content-type', file.contentType).header('content-disposition', file.contentDisposition);
    return file.body;
  }
}
