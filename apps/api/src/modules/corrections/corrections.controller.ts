import { Body, Controller, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import {
  AddMissingItemSchema,
  CorrectionResultSchema,
  CorrectItemSchema,
  InventoryDiffSchema,
  UuidParamSchema,
  type AddMissingItemDto,
  type CorrectItemDto,
} from './corrections.dto.js';
import { CorrectionsService } from './corrections.service.js';
import { DiffService } from './diff.service.js';

/**
 * Corrections of a report's lines and the count-to-count diff (DESIGN.md "API surface":
 * "correct a line", "diff with previous count"). Members of the store (OWNER or OPERATOR);
 * anyone else gets 404.
 */
@ApiTags('inventory')
@ApiBearerAuth()
@Controller('inventory-sessions')
export class CorrectionsController {
  constructor(
    private readonly corrections: CorrectionsService,
    private readonly diffs: DiffService,
  ) {}

  @Patch(':id/items/:itemId')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiParam({ name: 'itemId', format: 'uuid' })
  @ApiOperation({
    summary: "Correct a report line: its quantity, its product, or mark it wrong (the pipeline's values are kept)",
    description:
      'Records the correction, a ground-truth row and an audit entry in one transaction, and returns the line as ' +
      'the report now shows it with the new totals. A body equal to the line’s current values changes nothing ' +
      '(correctionId null). 400 VALIDATION_FAILED for a bad body or a product neither global nor the store’s; ' +
      '404 NOT_FOUND for an unknown or foreign session or line; 409 REPORT_NOT_READY before READY.',
    operationId: 'correctInventoryItem',
  })
  @ApiResponse({ status: 200, standardSchema: CorrectionResultSchema })
  correctInventoryItem(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', { schema: UuidParamSchema }) id: string,
    @Param('itemId', { schema: UuidParamSchema }) itemId: string,
    @Body({ schema: CorrectItemSchema }) body: CorrectItemDto,
  ) {
    return this.corrections.correctItem(user.userId, id, itemId, body);
  }

  @Post(':id/items')
  @HttpCode(201)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    summary: 'Add a product the count missed (a MANUAL line)',
    description:
      'By productId (global catalogue or the store’s) or by name (+ brand, barcode). The line’s original quantity ' +
      'is 0 and its quantity the one given. Recorded as an ADD_MISSING correction with a ground-truth row and an ' +
      'audit entry. 400 VALIDATION_FAILED for a bad body or an unusable product; 404 NOT_FOUND for an unknown or ' +
      'foreign session; 409 REPORT_NOT_READY before READY.',
    operationId: 'addMissingInventoryItem',
  })
  @ApiResponse({ status: 201, standardSchema: CorrectionResultSchema })
  addMissingInventoryItem(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', { schema: UuidParamSchema }) id: string,
    @Body({ schema: AddMissingItemSchema }) body: AddMissingItemDto,
  ) {
    return this.corrections.addMissingItem(user.userId, id, body);
  }

  @Get(':id/diff')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    summary: 'What changed per product since the store’s previous READY count (appeared, disappeared, up, down)',
    description:
      'Matches products by id, else barcode, else normalised name; uses corrected quantities; each line carries ' +
      'the evidence frame of both counts (signed URLs that expire). The first count of a store answers 200 with ' +
      'previousSessionId null and every line APPEARED. 404 NOT_FOUND for an unknown or foreign session; ' +
      '409 REPORT_NOT_READY before READY.',
    operationId: 'getInventoryDiff',
  })
  @ApiResponse({ status: 200, standardSchema: InventoryDiffSchema })
  getInventoryDiff(@CurrentUser() user: AuthenticatedUser, @Param('id', { schema: UuidParamSchema }) id: string) {
    return this.diffs.diff(user.userId, id);
  }
}
