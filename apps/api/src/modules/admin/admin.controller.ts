import { Body, Controller, Get, Param, Patch, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import { Roles } from '../../common/auth/roles.decorator.js';
import {
  AdminUserPageSchema,
  AdminUserQuerySchema,
  AdminUserViewSchema,
  AuditLogPageSchema,
  AuditLogQuerySchema,
  ChangeUserRoleSchema,
  UserIdParamSchema,
  type AdminUserQueryDto,
  type AuditLogQueryDto,
  type ChangeUserRoleDto,
} from './admin.dto.js';
import { AdminService } from './admin.service.js';

/** `/admin/*`: audit log and accounts (ADMIN only; others get 403 FORBIDDEN). */
@ApiTags('admin')
@ApiBearerAuth()
@Roles('ADMIN')
@Controller('admin')
export class AdminController {
  constructor(private readonly admin: AdminService) {}

  @Get('audit-logs')
  @ApiOperation({
    summary: 'List audit entries, newest first, filtered; page with `before`',
    description: 'Filters combine with AND; `from` is inclusive, `to` exclusive. At most 200 per page.',
    operationId: 'listAuditLogs',
  })
  @ApiResponse({ status: 200, standardSchema: AuditLogPageSchema })
  auditLogs(@Query({ schema: AuditLogQuerySchema }) query: AuditLogQueryDto) {
    return this.admin.listAuditLogs(query);
  }

  @Get('users')
  @ApiOperation({
    summary: 'Search accounts by phone, e-mail or name, newest first; page with `cursor`',
    operationId: 'listUsers',
  })
  @ApiResponse({ status: 200, standardSchema: AdminUserPageSchema })
  users(@Query({ schema: AdminUserQuerySchema }) query: AdminUserQueryDto) {
    return this.admin.listUsers(query);
  }

  @Patch('users/:userId')
  @ApiParam({ name: 'userId', format: 'uuid' })
  @ApiOperation({
    summary: "Change a person's platform role (audited as user.role_changed)",
    description: '404 for an unknown account; 409 CONFLICT for your own role.',
    operationId: 'changeUserRole',
  })
  @ApiResponse({ status: 200, standardSchema: AdminUserViewSchema })
  changeRole(
    @CurrentUser() actor: AuthenticatedUser,
    @Param('userId', { schema: UserIdParamSchema }) userId: string,
    @Body({ schema: ChangeUserRoleSchema }) body: ChangeUserRoleDto,
  ) {
    return this.admin.changeRole(actor.userId, userId, body);
  }
}
