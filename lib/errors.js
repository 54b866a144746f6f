'use strict';

// Errors with Node's codes, names and messages, so code written against
// node:http that checks `err.code` keeps working.

function makeError(Base, code, message) {
  const err = new Base(message);
  err.code = code;
  // Node's errors print as `TypeError [ERR_X]: message`.
  Object.defineProperty(err, 'name', {
    value: `${Base.name} [${code}]`,
    configurable: true,
    writable: true,
    enumerable: false,
  });
  Error.captureStackTrace(err, makeError);
  // Restore the plain name once the stack has captured the decorated one.
  delete err.name;
  return err;
}

function describe(value) {
  if (value == null) return ` Received ${value}`;
  if (typeof value === 'function') return ` Received function ${value.name}`;
  if (typeof value === 'object') {
    if (value.constructor && value.constructor.name) {
      return ` Received an instance of ${value.constructor.name}`;
    }
    return ' Received an object';
  }
  let shown = String(value).slice(0, 25);
  if (typeof value === 'string') shown = `'${shown}'`;
  return ` Received type ${typeof value} (${shown})`;
}

const codes = {
  ERR_INVALID_ARG_TYPE: (name, expected, actual) => makeError(TypeError, 'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}.${describe(actual)}`),
  ERR_INVALID_ARG_VALUE: (name, value, reason = 'is invalid') => makeError(TypeError, 'ERR_INVALID_ARG_VALUE',
    `The argument '${name}' ${reason}. Received ${JSON.stringify(value)}`),
  ERR_OUT_OF_RANGE: (name, range, actual) => makeError(RangeError, 'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${String(actual)}`),
  ERR_SOCKET_BAD_PORT: (name, port) => makeError(RangeError, 'ERR_SOCKET_BAD_PORT',
    `${name} should be >= 0 and < 65536. Received ${typeof port} (${String(port)}).`),
  ERR_SERVER_ALREADY_LISTEN: () => makeError(Error, 'ERR_SERVER_ALREADY_LISTEN',
    'Listen method has been called more than once without closing.'),
  ERR_SERVER_NOT_RUNNING: () => makeError(Error, 'ERR_SERVER_NOT_RUNNING', 'Server is not running.'),
  ERR_INVALID_HTTP_TOKEN: (what, name) => makeError(TypeError, 'ERR_INVALID_HTTP_TOKEN',
    `${what} must be a valid HTTP token ["${name}"]`),
  ERR_INVALID_CHAR: (what, name) => makeError(TypeError, 'ERR_INVALID_CHAR',
    `Invalid character in ${what} ["${name}"]`),
  ERR_HTTP_INVALID_HEADER_VALUE: (value, name) => makeError(TypeError, 'ERR_HTTP_INVALID_HEADER_VALUE',
    `Invalid value "${value}" for header "${name}"`),
  ERR_HTTP_HEADERS_SENT: (action) => makeError(Error, 'ERR_HTTP_HEADERS_SENT',
    `Cannot ${action} headers after they are sent to the client`),
  ERR_HTTP_INVALID_STATUS_CODE: (code) => makeError(RangeError, 'ERR_HTTP_INVALID_STATUS_CODE',
    `Invalid status code: ${code}`),
  ERR_HTTP_CONTENT_LENGTH_MISMATCH: (actual, expected) => makeError(Error, 'ERR_HTTP_CONTENT_LENGTH_MISMATCH',
    `Response body's content-length of ${actual} byte(s) does not match the content-length of ${expected} byte(s) set in header`),
  ERR_HTTP_TRAILER_INVALID: () => makeError(Error, 'ERR_HTTP_TRAILER_INVALID',
    'Trailers are invalid with this transfer encoding'),
  ERR_STREAM_WRITE_AFTER_END: () => makeError(Error, 'ERR_STREAM_WRITE_AFTER_END', 'write after end'),
  ERR_STREAM_DESTROYED: (method) => makeError(Error, 'ERR_STREAM_DESTROYED',
    `Cannot call ${method} after a stream was destroyed`),
  ERR_STREAM_NULL_VALUES: () => makeError(TypeError, 'ERR_STREAM_NULL_VALUES', 'May not write null values to stream'),
  ERR_STREAM_ALREADY_FINISHED: (method) => makeError(Error, 'ERR_STREAM_ALREADY_FINISHED',
    `Cannot call ${method} after a stream was finished`),
  ERR_METHOD_NOT_IMPLEMENTED: (method) => makeError(Error, 'ERR_METHOD_NOT_IMPLEMENTED',
    `The ${method} method is not implemented`),
  ERR_INVALID_THIS: (type) => makeError(TypeError, 'ERR_INVALID_THIS', `Value of "this" must be of type ${type}`),
};

function connResetException(message) {
  const err = new Error(message);
  err.code = 'ECONNRESET';
  return err;
}

// Native errors carry Node's `code`, and for a failed listen its `syscall`,
// as fields; `message` is the core's own text (src/binding/error.rs).
function fromNative(err, address, port) {
  if (err === null || typeof err !== 'object' || typeof err.code !== 'string') return err;
  const { code, syscall } = err;
  const rest = String(err.message);
  if (code === 'ERR_SERVER_NOT_RUNNING') return codes.ERR_SERVER_NOT_RUNNING();
  if (!code.startsWith('E') || code.startsWith('ERR_') || typeof syscall !== 'string') {
    const e = new Error(rest);
    e.code = code;
    return e;
  }
  const { errno } = require('node:os').constants;
  const uv = require('node:util').getSystemErrorMap?.();
  const num = errno[code] !== undefined ? -errno[code] : undefined;
  const desc = (uv && num !== undefined && uv.get(num)) ? uv.get(num)[1] : rest;
  const where = address !== undefined ? ` ${address.includes(':') ? `[${address}]` : address}:${port}` : '';
  const e = new Error(`${syscall} ${code}: ${desc}${where}`);
  e.code = code;
  e.errno = num;
  e.syscall = syscall;
  if (address !== undefined) {
    e.address = address;
    e.port = port;
  }
  return e;
}

module.exports = { codes, connResetException, fromNative };
