import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import {
  CreateStoreSchema,
  StoreListSchema,
  StoreViewSchema,
  UpdateStoreSchema,
  UuidParamSchema,
  type CreateStoreDto,
  type UpdateStoreDto,
} from './stores.dto.js';
import { StoresService } from './stores.service.js';

/** `/stores`: create, list mine, read, update, archive (DESIGN.md "API surface"). */
@ApiTags('stores')
@ApiBearerAuth()
@Controller('stores')
export class StoresController {
  constructor(private readonly stores: StoresService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Create a store; I become its OWNER',
    description: 'My platform role becomes at least OWNER. 400 VALIDATION_FAILED for a bad giro or time zone.',
    operationId: 'createStore',
  })
  @ApiResponse({ status: 201, standardSchema: StoreViewSchema })
  createStore(@CurrentUser() user: AuthenticatedUser, @Body({ schema: CreateStoreSchema }) body: CreateStoreDto) {
    return this.stores.create(user.userId, body);
  }

  @Get()
  @ApiOperation({ summary: 'The stores I belong to, with my role in each', operationId: 'listStores' })
  @ApiResponse({ status: 200, standardSchema: StoreListSchema })
  async listStores(@CurrentUser() user: AuthenticatedUser) {
    return { items: await this.stores.listMine(user.userId) };
  }

  @Get(':storeId')
  @ApiParam({ name: 'storeId', format: 'uuid' })
  @ApiOperation({
    summary: 'One of my stores',
    description: '404 NOT_FOUND when I am not a member or it is archived.',
    operationId: 'getStore',
  })
  @ApiResponse({ status: 200, standardSchema: StoreViewSchema })
  getStore(@CurrentUser() user: AuthenticatedUser, @Param('storeId', { schema: UuidParamSchema }) storeId: string) {
    return this.stores.get(user.userId, storeId);
  }

  @Patch(':storeId')
  @ApiParam({ name: 'storeId', format: 'uuid' })
  @ApiOperation({
    summary: 'Change the name, giro, address or time zone of a store (OWNER)',
    description: '403 FORBIDDEN for an OPERATOR; 404 NOT_FOUND when I am not a member.',
    operationId: 'updateStore',
  })
  @ApiResponse({ status: 200, standardSchema: StoreViewSchema })
  updateStore(
    @CurrentUser() user: AuthenticatedUser,
    @Param('storeId', { schema: UuidParamSchema }) storeId: string,
    @Body({ schema: UpdateStoreSchema }) body: UpdateStoreDto,
  ) {
    return this.stores.update(user.userId, storeId, body);
  }

  @Delete(':storeId')
  @HttpCode(204)
  @ApiParam({ name: 'storeId', format: 'uuid' })
  @ApiOperation({
    summary: 'Archive a store (OWNER): it disappears for every member; its data is kept',
    description: '403 FORBIDDEN for an OPERATOR; 404 NOT_FOUND when I am not a member.',
    operationId: 'archiveStore',
  })
  async archiveStore(
    @CurrentUser() user: AuthenticatedUser,
    @Param('storeId', { schema: UuidParamSchema }) storeId: string,
  ) {
    await this.stores.archive(user.userId, storeId);
  }
}
