import { Controller, Head, HttpCode, Param, Patch, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NoRequestTransaction } from '../../database/request-transaction.interceptor.js';
import { UploadsService } from './uploads.service.js';

/**
 * The tus 1.0 endpoint (DESIGN.md "API surface": `POST /api/v1/uploads`, then `PATCH`/`HEAD`
 * on the returned Location). Long-lived requests: no request-wide transaction.
 */
@ApiTags('uploads')
@ApiBearerAuth()
@Controller('uploads')
@NoRequestTransaction()
export class UploadsController {
  constructor(private readonly uploads: UploadsService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Create the resumable (tus 1.0) upload of an inventory session’s video',
    description:
      'Headers: `Tus-Resumable: 1.0.0`, `Upload-Length` (bytes, ≤ the configured maximum, 500 MB by default), ' +
      '`Upload-Metadata: sessionId <base64 uuid>,filename <base64>,filetype <base64>`. The session must be CREATED and ' +
      'mine (OWNER or OPERATOR of its store). 201 with `Location` of the upload; then PATCH the bytes ' +
      '(`Content-Type: application/offset+octet-stream`, `Upload-Offset`) and HEAD to resume. Errors (problem+json): ' +
      '400 UPLOAD_INVALID, 404 NOT_FOUND, 409 UPLOAD_EXISTS, 413 PAYLOAD_TOO_LARGE, 415 UNSUPPORTED_VIDEO_FORMAT (the ' +
      'session FAILED with UNSUPPORTED_FORMAT and its credit was released).',
    operationId: 'createUpload',
  })
  @ApiHeader({ name: 'Upload-Length', required: true, description: 'total size in bytes' })
  @ApiHeader({ name: 'Upload-Metadata', required: true, description: 'tus metadata; must contain sessionId' })
  @ApiResponse({ status: 201, description: 'created; Location header names the upload' })
  async createUpload(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.uploads.handle('POST', null, request.raw, reply.raw, () => reply.hijack());
  }

  @Patch(':uploadId')
  @ApiHeader({ name: 'Tus-Resumable', required: true, description: 'tus protocol version: 1.0.0' })
  @ApiParam({ name: 'uploadId' })
  @ApiOperation({
    summary: 'Send bytes of an upload at Upload-Offset (tus PATCH)',
    description:
      '`Content-Type: application/offset+octet-stream`; 204 with the new `Upload-Offset`. 409 when Upload-Offset is not ' +
      'the stored offset (nothing written). When the last byte arrives the video is validated (ffprobe) and queued ' +
      'before this answers.',
    operationId: 'patchUpload',
  })
  @ApiResponse({ status: 204, description: 'bytes stored; Upload-Offset is the new offset' })
  async patchUpload(
    @Param('uploadId') uploadId: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.uploads.handle('PATCH', uploadId, request.raw, reply.raw, () => reply.hijack());
  }

  @Head(':uploadId')
  @ApiHeader({ name: 'Tus-Resumable', required: true, description: 'tus protocol version: 1.0.0' })
  @ApiParam({ name: 'uploadId' })
  @ApiOperation({
    summary: 'Offset of an upload, to resume it (tus HEAD)',
    description: '200 with `Upload-Offset` and `Upload-Length`; 404 when unknown or not mine.',
    operationId: 'headUpload',
  })
  @ApiResponse({ status: 200, description: 'Upload-Offset header: bytes stored so far' })
  async headUpload(
    @Param('uploadId') uploadId: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.uploads.handle('HEAD', uploadId, request.raw, reply.raw, () => reply.hijack());
  }
}
