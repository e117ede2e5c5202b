/**
 * Every TypeORM entity class of the API, registered on the app DataSource.
 * Modules add theirs here as they are built (tables come from migrations only).
 */
export const entities: Array<new () => unknown> = [];
