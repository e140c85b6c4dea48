/**
 * What clients and servers share. The schemas are not re-exported here: they are TypeBox values
 * the server needs (validation, OpenAPI) and the SDK and web app would only carry as weight; the
 * server imports `./schemas.js` and `./stored-encoding.js` directly.
 */
export * from './errors.js';
export * from './constants.js';
export * from './types.js';
export * from './codec.js';
export * from './system-content.js';
