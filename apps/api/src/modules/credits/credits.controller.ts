import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import {
  LedgerPageSchema,
  PackageListSchema,
  TRANSACTIONS_QUERY_DOCS,
  TransactionsQuerySchema,
  WalletViewSchema,
  toLedgerPageView,
  toPackageView,
  toWalletView,
  type TransactionsQueryDto,
} from './credits.dto.js';
import { CreditsService } from './credits.service.js';

/** `/credits/*`: my wallet, my ledger and the price list (DESIGN.md "API surface"). */
@ApiTags('credits')
@ApiBearerAuth()
@Controller('credits')
export class CreditsController {
  constructor(private readonly credits: CreditsService) {}

  @Get('wallet')
  @ApiOperation({
    summary: 'My credit wallet: balance, held and available credits',
    description: 'Held credits are reserved by inventories in progress. 404 NOT_FOUND when I have no wallet.',
    operationId: 'getMyWallet',
  })
  @ApiResponse({ status: 200, standardSchema: WalletViewSchema })
  async wallet(@CurrentUser() user: AuthenticatedUser) {
    return toWalletView(await this.credits.getWallet(user.userId));
  }

  @Get('transactions')
  @ApiOperation({
    summary: 'My credit movements, newest first (cursor pagination, filter by type)',
    operationId: 'listMyCreditTransactions',
  })
  @ApiQuery(TRANSACTIONS_QUERY_DOCS.limit)
  @ApiQuery(TRANSACTIONS_QUERY_DOCS.cursor)
  @ApiQuery(TRANSACTIONS_QUERY_DOCS.type)
  @ApiResponse({ status: 200, standardSchema: LedgerPageSchema })
  async transactions(
    @CurrentUser() user: AuthenticatedUser,
    @Query({ schema: TransactionsQuerySchema }) query: TransactionsQueryDto,
  ) {
    return toLedgerPageView(await this.credits.listTransactions(user.userId, query));
  }

  @Get('packages')
  @ApiOperation({
    summary: 'Credit packages on sale (prices in MXN centavos)',
    operationId: 'listCreditPackages',
  })
  @ApiResponse({ status: 200, standardSchema: PackageListSchema })
  async packages() {
    return { items: (await this.credits.listPackages(true)).map(toPackageView) };
  }
}
