// A worker of the Step Functions engine in Node.js: serves AWS Lambda handlers
// (`exports.handler = (event, context, callback) => ...`, or an async handler) from their
// RabbitMQ queues `lambda.<FunctionName>`, following the worker wire contract in the README:
//
//   request  (queue lambda.<FunctionName>): TaskRequest JSON, reply_to and correlation_id set
//   reply    (to reply_to, correlation_id = taskToken, persistent, confirmed):
//            {"version":1,"status":"SUCCEEDED","taskToken","attempt","output","requestId"}
//            {"version":1,"status":"FAILED","taskToken","attempt","errorType","errorMessage",
//             "stackTrace","requestId"}
//   ack      only after the broker confirmed the reply; a request that cannot be used is
//            dead-lettered (exchange "dead-letter", header x-dead-letter-reason), then acked.
//
// Usage: node worker.js [FunctionName | FunctionName=path/to/handler.js]...
//   No argument: every handlers/<FunctionName>.js. AMQP_URL (default
//   amqp://guest:guest@127.0.0.1:5672/), WORKER_PREFETCH (default 10), LOG_LEVEL (INFO).

"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const amqp = require("amqplib");

const DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/";
const DEAD_LETTER_EXCHANGE = "dead-letter";
const DELIVERY_LIMIT = 20; // as the engine declares every work queue (broker/topology.py)
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const RETRY_SECONDS = 5;
const MARSHAL_ERROR = "Runtime.MarshalError";
const LEVELS = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };

const level = (process.env.LOG_LEVEL || "INFO").toUpperCase();
if (!(level in LEVELS)) {
  console.error(`LOG_LEVEL '${process.env.LOG_LEVEL}' is not one of ${Object.keys(LEVELS).join(", ")}`);
  process.exit(2);
}

function log(severity, message) {
  if (LEVELS[severity] >= LEVELS[level]) {
    console.error(`${new Date().toISOString()} ${severity} node-worker: ${message}`);
  }
}

function redact(url) {
  return url.replace(/^(\w+:\/\/[^:/@]*):[^@]*@/, "$1:***@");
}

// --- which functions to serve -------------------------------------------------------------

function loadFunctions(args) {
  const folder = path.join(__dirname, "handlers");
  const specs = args.length
    ? args
    : fs.readdirSync(folder).filter((f) => f.endsWith(".js")).map((f) => f.slice(0, -3));
  const functions = new Map();
  for (const spec of specs) {
    const [name, file] = spec.includes("=") ? spec.split("=", 2) : [spec, path.join(folder, `${spec}.js`)];
    const handler = require(path.resolve(file)).handler;
    if (typeof handler !== "function") {
      throw new Error(`${file} exports no handler function`);
    }
    functions.set(name, handler);
  }
  return functions;
}

// --- invoking a handler as Lambda's Node.js runtime does ----------------------------------

function lambdaContext(functionName, requestId) {
  const region = process.env.SFN_REGION || "us-east-1";
  const account = process.env.SFN_ACCOUNT || "123456789012";
  return {
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${region}:${account}:function:${functionName}`,
    memoryLimitInMB: "128",
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "node-worker",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 900000, // no limit here: Step Functions' TimeoutSeconds applies
  };
}

// The handler's outcome: {output} or {error}. A callback handler answers through the
// callback; a handler that returns a promise (an async one) through that promise.
function invoke(handler, event, context) {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome) => {
      if (!settled) {
        settled = true;
        resolve(outcome);
      }
    };
    const callback = (error, output) => settle(error ? { error } : { output });
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof returned.then === "function") {
        returned.then((output) => settle({ output }), (error) => settle({ error }));
      }
    } catch (error) {
      settle({ error });
    }
  });
}

// Lambda's error shape: errorType is the error's name (set `name` on your own error classes
// to Catch them by name), errorMessage its message, the stack as lines.
function errorPayload(error) {
  if (error instanceof Error) {
    const lines = String(error.stack || "").split("\n").slice(1).map((line) => line.trim());
    return { errorType: error.name || "Error", errorMessage: error.message || "", stackTrace: lines };
  }
  return { errorType: typeof error, errorMessage: String(error), stackTrace: [] };
}

function reply(request, requestId, outcome) {
  const base = { version: 1, taskToken: request.taskToken, attempt: request.attempt, requestId };
  if (!("error" in outcome)) {
    try {
      const output = outcome.output === undefined ? null : outcome.output;
      // Round trip: what JSON cannot carry fails here, as Lambda fails to marshal it.
      return JSON.stringify({ ...base, status: "SUCCEEDED", output: JSON.parse(JSON.stringify(output)) });
    } catch (error) {
      outcome = { error: Object.assign(new Error(`Unable to marshal response: ${error.message}`), { name: MARSHAL_ERROR }) };
    }
  }
  return JSON.stringify({ ...base, status: "FAILED", ...errorPayload(outcome.error) });
}

// Why a body is not a TaskRequest, or null when it is one.
function problemWith(request) {
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    return "body is not a TaskRequest: not a JSON object";
  }
  if (request.version !== 1) return `body is not a TaskRequest: version ${JSON.stringify(request.version)}, expected 1`;
  for (const field of ["executionArn", "executionName", "stateMachineName", "stateName", "functionName", "taskToken"]) {
    if (typeof request[field] !== "string") return `body is not a TaskRequest: ${field} must be a string`;
  }
  if (!Number.isInteger(request.attempt) || request.attempt < 0) {
    return "body is not a TaskRequest: attempt must be an integer >= 0";
  }
  if (!("payload" in request)) return "body is not a TaskRequest: payload is missing";
  return null;
}

// --- the broker side ------------------------------------------------------------------------

async function declareWorkQueue(channel, queue) {
  // The same arguments as the engine's topology: declaring differently would be refused.
  await channel.assertExchange(DEAD_LETTER_EXCHANGE, "direct", { durable: true });
  await channel.assertQueue(`${queue}.dead-letter`, { durable: true, arguments: { "x-queue-type": "quorum" } });
  await channel.bindQueue(`${queue}.dead-letter`, DEAD_LETTER_EXCHANGE, queue);
  await channel.assertQueue(queue, {
    durable: true,
    arguments: {
      "x-queue-type": "quorum",
      "x-delivery-limit": DELIVERY_LIMIT,
      "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
      "x-dead-letter-routing-key": queue,
    },
  });
}

function publishConfirmed(channel, exchange, routingKey, body, options) {
  return new Promise((resolve, reject) => {
    channel.publish(exchange, routingKey, Buffer.from(body), { persistent: true, ...options }, (error) =>
      error ? reject(new Error("the broker refused the message")) : resolve(),
    );
  });
}

class Worker {
  constructor(url, functions, prefetch) {
    this.url = url;
    this.functions = functions;
    this.prefetch = prefetch;
    this.connection = null;
    this.channel = null;
    this.consumers = [];
    this.inFlight = new Set();
    this.returned = new Set(); // message ids the broker returned as unroutable
    this.stopping = false;
  }

  async run() {
    let lastLine = 0;
    while (!this.stopping) {
      try {
        await this.connect();
        return;
      } catch (error) {
        if (/ACCESS.REFUSED/.test(String(error.message))) {
          throw new Error(`RabbitMQ at ${redact(this.url)} refused the login: ${error.message}`);
        }
        if (/Expected ConnectionOpenOk/.test(String(error.message))) {
          const vhost = decodeURIComponent(new URL(this.url).pathname.slice(1)) || "/";
          throw new Error(`RabbitMQ at ${redact(this.url)} refused to open virtual host '${vhost}' (does it exist, and may the user use it?)`);
        }
        if (Date.now() - lastLine >= RETRY_SECONDS * 1000) {
          lastLine = Date.now();
          log("WARNING", `RabbitMQ at ${redact(this.url)} is not reachable (${error.code || error.message}); retrying every ${RETRY_SECONDS}s`);
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_SECONDS * 1000));
      }
    }
  }

  async connect() {
    const connection = await amqp.connect(this.url);
    try {
      const channel = await connection.createConfirmChannel();
      await channel.prefetch(this.prefetch);
      channel.on("return", (message) => this.returned.add(message.properties.messageId));
      this.connection = connection;
      this.channel = channel;
      this.consumers = [];
      for (const [name, handler] of this.functions) {
        const queue = `lambda.${name}`;
        await declareWorkQueue(channel, queue);
        const { consumerTag } = await channel.consume(queue, (message) => {
          if (message !== null) this.track(this.handle(channel, queue, name, handler, message));
        });
        this.consumers.push(consumerTag);
        log("INFO", `started ${name}: consuming ${queue} (prefetch ${this.prefetch})`);
      }
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
    connection.on("error", (error) => log("WARNING", `connection error: ${error.message}`));
    connection.on("close", () => {
      if (this.stopping) return;
      log("WARNING", `lost RabbitMQ at ${redact(this.url)}; reconnecting (unacked requests are redelivered)`);
      this.run().catch(fatal);
    });
  }

  track(promise) {
    this.inFlight.add(promise);
    promise.finally(() => this.inFlight.delete(promise));
  }

  async handle(channel, queue, name, handler, message) {
    try {
      if (message.content.length > MAX_MESSAGE_BYTES) {
        return await this.deadLetter(channel, queue, message, `message of ${message.content.length} bytes exceeds the limit of ${MAX_MESSAGE_BYTES} bytes`);
      }
      let request;
      try {
        request = JSON.parse(message.content.toString("utf8"));
      } catch (error) {
        return await this.deadLetter(channel, queue, message, `body is not JSON: ${error.message}`);
      }
      const problem = problemWith(request);
      if (problem) return await this.deadLetter(channel, queue, message, problem);
      const replyTo = message.properties.replyTo;
      if (!replyTo) {
        return await this.deadLetter(channel, queue, message, `request has no reply_to: nowhere to send the result of task ${request.taskToken}`);
      }
      if (request.functionName !== name) {
        log("WARNING", `request addressed to ${request.functionName} arrived on ${queue}`);
      }
      const requestId = crypto.randomUUID();
      const outcome = await invoke(handler, request.payload, lambdaContext(name, requestId));
      const messageId = crypto.randomUUID();
      try {
        await publishConfirmed(channel, "", replyTo, reply(request, requestId, outcome), {
          contentType: "application/json",
          correlationId: request.taskToken,
          messageId,
          mandatory: true,
        });
      } catch (error) {
        log("ERROR", `the broker refused the result of task ${request.taskToken}; requeueing`);
        return channel.nack(message, false, true);
      }
      if (this.returned.delete(messageId)) {
        return await this.deadLetter(channel, queue, message, `reply queue '${replyTo}' does not exist: result was unroutable`);
      }
      channel.ack(message); // only now: the result is safe with the broker
      log("DEBUG", `${name} answered task ${request.taskToken} (attempt ${request.attempt})`);
    } catch (error) {
      // The channel is gone: the broker redelivers the unacked request.
      log("WARNING", `could not finish a request from ${queue}: ${error.message}`);
    }
  }

  async deadLetter(channel, queue, message, reason) {
    log("INFO", `dead-lettering a message from ${queue}: ${reason}`);
    const headers = { ...(message.properties.headers || {}), "x-dead-letter-reason": reason.slice(0, 4000), "x-original-queue": queue };
    await publishConfirmed(channel, DEAD_LETTER_EXCHANGE, queue, message.content, {
      headers,
      contentType: message.properties.contentType,
      correlationId: message.properties.correlationId,
      replyTo: message.properties.replyTo,
      messageId: message.properties.messageId,
    });
    channel.ack(message);
  }

  // Stop taking requests, finish and answer the ones in flight, then close.
  async stop() {
    this.stopping = true;
    if (this.channel) {
      for (const tag of this.consumers) await this.channel.cancel(tag).catch(() => {});
    }
    await Promise.allSettled([...this.inFlight]);
    if (this.connection) await this.connection.close().catch(() => {});
    for (const name of this.functions.keys()) log("INFO", `stopped ${name}`);
  }
}

function fatal(error) {
  log("ERROR", error.message);
  process.exit(4);
}

async function main() {
  const functions = loadFunctions(process.argv.slice(2));
  const prefetch = Number.parseInt(process.env.WORKER_PREFETCH || "10", 10);
  if (!(prefetch >= 1)) {
    console.error("WORKER_PREFETCH must be an integer >= 1");
    process.exit(2);
  }
  const worker = new Worker(process.env.AMQP_URL || DEFAULT_URL, functions, prefetch);
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.once(signal, () => {
      log("INFO", `received ${signal}`);
      worker.stop().then(() => process.exit(0), fatal);
    });
  }
  await worker.run();
}

main().catch(fatal);
