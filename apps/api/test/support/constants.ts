/** Password given to the application role in tests (trust auth ignores it; the embedded server checks it). */
export const TEST_APP_PASSWORD = 'miinventario-app-test';
