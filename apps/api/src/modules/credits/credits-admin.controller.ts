import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Roles } from '../../common/auth/roles.decorator.js';
import {
  AdjustSchema,
  AdminLedgerEntryViewSchema,
  AdminWalletSchema,
  CreatePackageSchema,
  PackageListSchema,
  PackageViewSchema,
  SessionCostSchema,
  StaleHoldListSchema,
  StaleHoldsQuerySchema,
  STALE_HOLDS_QUERY_DOCS,
  TotalsSchema,
  TRANSACTIONS_QUERY_DOCS,
  TransactionsQuerySchema,
  UpdatePackageSchema,
  UuidParamSchema,
  toAdminLedgerEntryView,
  toAdminLedgerPageView,
  toPackageView,
  toSessionCostView,
  toStaleHoldListView,
  toTotalsView,
  toWalletView,
  type AdjustDto,
  type CreatePackageDto,
  type StaleHoldsQueryDto,
  type TransactionsQueryDto,
  type UpdatePackageDto,
} from './credits.dto.js';
import { CreditsService } from './credits.service.js';

/** `/admin/credits/*` (ADMIN only): wallets, adjustments, totals, stale holds, packages, session costs. */
@ApiTags('admin: credits')
@ApiBearerAuth()
@Roles('ADMIN')
@Controller('admin/credits')
export class CreditsAdminController {
  constructor(private readonly credits: CreditsService) {}

  @Get('wallets/:userId')
  @ApiParam({ name: 'userId', format: 'uuid' })
  @ApiOperation({
    summary: "A user's wallet with a page of its movements (newest first)",
    description: '404 NOT_FOUND when the user has no wallet.',
    operationId: 'adminGetCreditWallet',
  })
  @ApiQuery(TRANSACTIONS_QUERY_DOCS.limit)
  @ApiQuery(TRANSACTIONS_QUERY_DOCS.cursor)
  @ApiQuery(TRANSACTIONS_QUERY_DOCS.type)
  @ApiResponse({ status: 200, standardSchema: AdminWalletSchema })
  async wallet(
    @Param('userId', { schema: UuidParamSchema }) userId: string,
    @Query({ schema: TransactionsQuerySchema }) query: TransactionsQueryDto,
  ) {
    const { wallet, transactions } = await this.credits.walletWithTransactions(userId, query);
    return { userId, wallet: toWalletView(wallet), transactions: toAdminLedgerPageView(transactions) };
  }

  @Post('wallets/:userId/adjustments')
  @HttpCode(201)
  @ApiParam({ name: 'userId', format: 'uuid' })
  @ApiOperation({
    summary: "Add or remove credits of a user's wallet, with a reason (audited)",
    description:
      '402 INSUFFICIENT_CREDITS when removing more than the available credits; 409 IDEMPOTENCY_KEY_REUSED when ' +
      'the idempotencyKey was used for another adjustment.',
    operationId: 'adminAdjustCredits',
  })
  @ApiResponse({ status: 201, standardSchema: AdminLedgerEntryViewSchema })
  async adjust(
    @Param('userId', { schema: UuidParamSchema }) userId: string,
    @Body({ schema: AdjustSchema }) body: AdjustDto,
  ) {
    return toAdminLedgerEntryView(await this.credits.adjust({ userId, ...body }));
  }

  @Get('totals')
  @ApiOperation({
    summary: 'Ledger totals: wallets, balances, credits granted, spent and held, per type',
    operationId: 'adminCreditTotals',
  })
  @ApiResponse({ status: 200, standardSchema: TotalsSchema })
  async totals() {
    return toTotalsView(await this.credits.totals());
  }

  @Get('holds/stale')
  @ApiOperation({
    summary: 'Holds open longer than CREDIT_HOLD_STALE_MINUTES (neither committed nor voided)',
    description: 'Reported for investigation; nothing is voided automatically.',
    operationId: 'adminStaleCreditHolds',
  })
  @ApiQuery(STALE_HOLDS_QUERY_DOCS.olderThanMinutes)
  @ApiQuery(STALE_HOLDS_QUERY_DOCS.limit)
  @ApiResponse({ status: 200, standardSchema: StaleHoldListSchema })
  async staleHolds(@Query({ schema: StaleHoldsQuerySchema }) query: StaleHoldsQueryDto) {
    return toStaleHoldListView(await this.credits.staleHolds(query));
  }

  @Get('sessions/:sessionId/cost')
  @ApiParam({ name: 'sessionId', format: 'uuid' })
  @ApiOperation({
    summary: 'Cost (COGS) and margin of an inventory session, in centavos',
    description: 'Revenue = the cheapest active package price per credit when the hold was committed, else 0.',
    operationId: 'adminSessionCost',
  })
  @ApiResponse({ status: 200, standardSchema: SessionCostSchema })
  async sessionCost(@Param('sessionId', { schema: UuidParamSchema }) sessionId: string) {
    const [cost] = await this.credits.sessionCosts([sessionId]);
    return toSessionCostView(cost!);
  }

  @Get('packages')
  @ApiOperation({ summary: 'Every credit package, active or not', operationId: 'adminListCreditPackages' })
  @ApiResponse({ status: 200, standardSchema: PackageListSchema })
  async packages() {
    return { items: (await this.credits.listPackages(false)).map(toPackageView) };
  }

  @Post('packages')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Create a credit package (audited)',
    description: '409 CONFLICT when the code exists.',
    operationId: 'adminCreateCreditPackage',
  })
  @ApiResponse({ status: 201, standardSchema: PackageViewSchema })
  async createPackage(@Body({ schema: CreatePackageSchema }) body: CreatePackageDto) {
    return toPackageView(await this.credits.createPackage(body));
  }

  @Patch('packages/:id')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    summary: 'Change a package: name, credits, price, active, order (audited)',
    operationId: 'adminUpdateCreditPackage',
  })
  @ApiResponse({ status: 200, standardSchema: PackageViewSchema })
  async updatePackage(
    @Param('id', { schema: UuidParamSchema }) id: string,
    @Body({ schema: UpdatePackageSchema }) body: UpdatePackageDto,
  ) {
    return toPackageView(await this.credits.updatePackage(id, body));
  }

  @Delete('packages/:id')
  @HttpCode(204)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    summary: 'Delete a package (audited)',
    description: '409 CONFLICT when payment orders refer to it: deactivate it instead.',
    operationId: 'adminDeleteCreditPackage',
  })
  async deletePackage(@Param('id', { schema: UuidParamSchema }) id: string) {
    await this.credits.deletePackage(id);
  }
}
