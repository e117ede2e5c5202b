import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import {
  CreateProductSchema,
  LIST_PRODUCTS_QUERY_DOCS,
  ListProductsQuerySchema,
  ProductPageSchema,
  ProductViewSchema,
  UpdateProductSchema,
  UuidParamSchema,
  type CreateProductDto,
  type ListProductsQueryDto,
  type UpdateProductDto,
} from './products.dto.js';
import { ProductsService } from './products.service.js';

/**
 * `/stores/{storeId}/products`: the products a store can count — its own plus the global
 * catalogue (issue 6 "Products catalogue"). OWNERs add and change the store's own products;
 * members read.
 */
@ApiTags('products')
@ApiBearerAuth()
@Controller('stores/:storeId/products')
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Post()
  @HttpCode(201)
  @ApiParam({ name: 'storeId', format: 'uuid' })
  @ApiOperation({
    summary: "Add a product to the store's own catalogue (OWNER)",
    description:
      'With the barcode of a global catalogue product, the store’s product replaces it for this store. ' +
      '400 VALIDATION_FAILED for a bad barcode (length or GS1 check digit); 403 FORBIDDEN for an OPERATOR; ' +
      '404 NOT_FOUND when I am not a member; 409 PRODUCT_GTIN_IN_USE when the store already has that barcode.',
    operationId: 'createStoreProduct',
  })
  @ApiResponse({ status: 201, standardSchema: ProductViewSchema })
  createStoreProduct(
    @CurrentUser() user: AuthenticatedUser,
    @Param('storeId', { schema: UuidParamSchema }) storeId: string,
    @Body({ schema: CreateProductSchema }) body: CreateProductDto,
  ) {
    return this.products.create(user.userId, storeId, body);
  }

  @Get()
  @ApiParam({ name: 'storeId', format: 'uuid' })
  @ApiOperation({
    summary: "Search the store's products and the global catalogue (cursor pagination)",
    description:
      'The store’s own products come first, then the global catalogue (Open Food Facts, ODbL). `query`: words of ' +
      'the name or brand (accents ignored) or barcode digits. 404 NOT_FOUND when I am not a member.',
    operationId: 'listStoreProducts',
  })
  @ApiQuery(LIST_PRODUCTS_QUERY_DOCS.query)
  @ApiQuery(LIST_PRODUCTS_QUERY_DOCS.limit)
  @ApiQuery(LIST_PRODUCTS_QUERY_DOCS.cursor)
  @ApiResponse({ status: 200, standardSchema: ProductPageSchema })
  listStoreProducts(
    @CurrentUser() user: AuthenticatedUser,
    @Param('storeId', { schema: UuidParamSchema }) storeId: string,
    @Query({ schema: ListProductsQuerySchema }) query: ListProductsQueryDto,
  ) {
    return this.products.list(user.userId, storeId, query);
  }

  @Patch(':productId')
  @ApiParam({ name: 'storeId', format: 'uuid' })
  @ApiParam({ name: 'productId', format: 'uuid' })
  @ApiOperation({
    summary: "Change one of the store's own products (OWNER)",
    description:
      '403 CATALOG_PRODUCT_READ_ONLY for a global catalogue product; 403 FORBIDDEN for an OPERATOR; 404 NOT_FOUND ' +
      'when I am not a member or the product is not the store’s; 409 PRODUCT_GTIN_IN_USE when another product ' +
      'of the store has the new barcode.',
    operationId: 'updateStoreProduct',
  })
  @ApiResponse({ status: 200, standardSchema: ProductViewSchema })
  updateStoreProduct(
    @CurrentUser() user: AuthenticatedUser,
    @Param('storeId', { schema: UuidParamSchema }) storeId: string,
    @Param('productId', { schema: UuidParamSchema }) productId: string,
    @Body({ schema: UpdateProductSchema }) body: UpdateProductDto,
  ) {
    return this.products.update(user.userId, storeId, productId, body);
  }
}
