import { Controller, Get, Header, Query, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import { Roles } from '../../common/auth/roles.decorator.js';
import { NoRequestTransaction } from '../../database/request-transaction.interceptor.js';
import {
  GROUND_TRUTH_EXPORT_QUERY_DOCS,
  GroundTruthExportQuerySchema,
  type GroundTruthExportQueryDto,
} from './corrections.dto.js';
import { GroundTruthService } from './ground-truth.service.js';

/** JSON Lines media type (https://jsonlines.org/, served as the common `application/x-ndjson`). */
const JSON_LINES = 'application/x-ndjson; charset=utf-8';

/** `/admin/ground-truth/*` (ADMIN only; others get 403 FORBIDDEN): the labelled dataset. */
@ApiTags('admin: ground truth')
@ApiBearerAuth()
@Roles('ADMIN')
@Controller('admin/ground-truth')
export class GroundTruthController {
  constructor(private readonly groundTruth: GroundTruthService) {}

  @Get('export')
  // Long download: pages are read in short transactions of their own, not one request-wide one.
  @NoRequestTransaction()
  @Header('cache-control', 'private, no-store')
  @ApiProduces('application/x-ndjson')
  @ApiQuery(GROUND_TRUTH_EXPORT_QUERY_DOCS.storeId)
  @ApiQuery(GROUND_TRUTH_EXPORT_QUERY_DOCS.from)
  @ApiQuery(GROUND_TRUTH_EXPORT_QUERY_DOCS.to)
  @ApiOperation({
    summary: 'Export ground truth as JSON Lines: frame (signed URL valid one day), box, product, barcode, true count',
    description:
      'One JSON object per line, oldest first: { id, createdAt, storeId, sessionId, itemId, correctionId, kind, ' +
      'source, frame: { id, key, url, width, height } | null, box: { x, y, w, h } | null (pixels), productId, ' +
      'gtin (GTIN-14), productName, trueCount }. Download the frame files from frame.url (no token needed, valid ' +
      '24 h). Streamed; audited as admin.action.',
    operationId: 'exportGroundTruth',
  })
  @ApiResponse({ status: 200, description: 'application/x-ndjson stream (attachment ground-truth.jsonl)' })
  async exportGroundTruth(
    @CurrentUser() user: AuthenticatedUser,
    @Query({ schema: GroundTruthExportQuerySchema }) query: GroundTruthExportQueryDto,
  ): Promise<StreamableFile> {
    return new StreamableFile(await this.groundTruth.export(user, query), {
      type: JSON_LINES,
      disposition: 'attachment; filename="ground-truth.jsonl"',
    });
  }
}
