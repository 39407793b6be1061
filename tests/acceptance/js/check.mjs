// The official JavaScript SDKs (npm `svix`, `standardwebhooks`) driving a real hookline.
//
// Run by tests/acceptance/test_svix_js_sdk.py with HOOKLINE_URL and HOOKLINE_TOKEN set.
// It covers what the JavaScript SDK puts on the wire differently from the Python one:
// dates in the query as `toISOString()` (milliseconds and `Z`), empty lists left out
// of the query, and path parameters percent-encoded (`encodeURIComponent`). A receiver
// of its own (node:http on 127.0.0.1) checks each delivery with `standardwebhooks`.
// Every check is an assertion; the last line printed is a JSON summary.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { ApiException, Svix } from "svix";
import { Webhook } from "standardwebhooks";

const svix = new Svix(process.env.HOOKLINE_TOKEN, { serverUrl: process.env.HOOKLINE_URL });
const run = randomBytes(4).toString("hex");

function receiver() {
  const received = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ path: request.url, headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(200, { "content-type": "text/plain" }).end("thanks");
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({ url: `http://127.0.0.1:${server.address().port}`, received, server });
    });
  });
}

async function waitFor(what, probe, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function refusal(call) {
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof ApiException, `expected an ApiException, got ${error}`);
    return error;
  }
  assert.fail("the call was expected to fail");
}

const hook = await receiver();
const summary = {};
try {
  const eventType = `user.signup-${run}`;
  await svix.eventType.create({
    name: eventType,
    description: "A user signed up",
    schemas: { 1: { type: "object", properties: { email: { type: "string" } } } },
  });
  const app = await svix.application.create({ name: "JS Acme", uid: `js-acme.${run}` });
  const secret = `whsec_${randomBytes(24).toString("base64")}`;
  const endpoint = await svix.endpoint.create(app.id, {
    url: `${hook.url}/hook`,
    uid: `js-hook_${run}`,
    eventTypes: [eventType],
    secret,
  });
  assert.equal(endpoint.uid, `js-hook_${run}`);
  assert.deepEqual(endpoint.eventTypes, [eventType]);

  const before = new Date(Date.now() - 2000);
  const message = await svix.message.create(app.id, {
    eventType,
    eventId: `evt-js.${run}`,
    payload: { email: "ada@example.com" },
    tags: ["vip"],
  });
  assert.ok(message.id.startsWith("msg_"));
  assert.ok(message.timestamp instanceof Date && !Number.isNaN(message.timestamp.getTime()));

  // The delivery verifies with the standardwebhooks library, on the exact bytes sent.
  const delivered = await waitFor("the delivery", () => hook.received[0]);
  assert.equal(delivered.path, "/hook");
  const verified = new Webhook(secret).verify(delivered.body.toString("utf8"), delivered.headers);
  assert.deepEqual(verified, { email: "ada@example.com" });
  assert.equal(delivered.headers["webhook-id"], message.id);

  // Path parameters go percent-encoded: uids, an eventId and an event type's name.
  assert.equal((await svix.application.get(app.uid)).id, app.id);
  assert.equal((await svix.endpoint.get(app.uid, endpoint.uid)).id, endpoint.id);
  assert.equal((await svix.message.get(app.uid, `evt-js.${run}`)).id, message.id);
  assert.equal((await svix.eventType.get(eventType)).name, eventType);
  // A key that is no uid at all (a "/" among others, encoded as %2F) is a plain 404 with
  // Svix's error body, never another route.
  for (const key of [`js-acme.${run}/endpoint`, "no such app", "naïve", "a?b#c"]) {
    const missing = await refusal(() => svix.application.get(key));
    assert.equal(missing.code, 404, `GET app ${key}`);
    assert.equal(missing.body.code, "not_found", `GET app ${key}: ${JSON.stringify(missing.body)}`);
  }
  const noEndpoint = await refusal(() => svix.endpoint.get(app.id, `${endpoint.uid}/secret`));
  assert.equal(noEndpoint.code, 404);

  // Dates in the query are toISOString(): milliseconds and Z.
  const after = new Date(Date.now() + 60_000);
  const attempts = await waitFor("the attempt", async () => {
    const page = await svix.messageAttempt.listByEndpoint(app.id, endpoint.id, {
      after: before,
      before: after,
    });
    return page.data.length === 1 ? page : null;
  });
  assert.equal(attempts.data[0].msgId, message.id);
  assert.equal(attempts.data[0].responseStatusCode, 200);
  assert.equal(attempts.iterator !== undefined, true);
  const future = await svix.messageAttempt.listByEndpoint(app.id, endpoint.id, { after });
  assert.equal(future.data.length, 0);
  assert.equal(future.done, true);
  const past = await svix.messageAttempt.listByMsg(app.id, message.id, { before });
  assert.equal(past.data.length, 0);
  const byMsg = await svix.messageAttempt.listByMsg(app.id, message.id, {
    after: before,
    eventTypes: [],
  });
  assert.equal(byMsg.data.length, 1);
  const listed = await svix.message.list(app.id, { after: before, before: after, withContent: true });
  assert.deepEqual(listed.data.map((m) => m.id), [message.id]);
  assert.deepEqual(listed.data[0].payload, { email: "ada@example.com" });
  const stats = await svix.endpoint.getStats(app.id, endpoint.id, { since: before, until: after });
  assert.equal(stats.success, 1);
  // This SDK has no getAttemptStats: the precheck and send-example it has, then.
  const active = await svix.message.precheck(app.id, { eventType, channels: [] });
  assert.equal(active.active, true);
  // (Its EventExampleIn has no payload: the example is made from the type's schema.)
  const example = await svix.endpoint.sendExample(app.uid, endpoint.uid, { eventType });
  const exampleDelivered = await waitFor("the example", () => hook.received[1]);
  assert.equal(exampleDelivered.headers["webhook-id"], example.id);
  const made = new Webhook(secret).verify(exampleDelivered.body.toString("utf8"), exampleDelivered.headers);
  assert.deepEqual(Object.keys(made), ["email"]);
  assert.equal(typeof made.email, "string");

  // Empty lists are left out of the query; the filters of listAttemptedMessages apply.
  const all = await svix.messageAttempt.listAttemptedMessages(app.id, endpoint.id, {
    eventTypes: [],
    after: before,
  });
  assert.deepEqual(all.data.map((m) => m.id).sort(), [message.id, example.id].sort());
  assert.ok(all.data.every((m) => m.eventType === eventType));
  const otherType = await svix.messageAttempt.listAttemptedMessages(app.id, endpoint.id, {
    eventTypes: ["invoice.paid"],
  });
  assert.equal(otherType.data.length, 0);
  const vip = await svix.messageAttempt.listAttemptedMessages(app.id, endpoint.id, { tag: "vip" });
  assert.deepEqual(vip.data.map((m) => m.id), [message.id]);
  const nobody = await svix.messageAttempt.listAttemptedMessages(app.id, endpoint.id, {
    channel: "nowhere",
  });
  assert.equal(nobody.data.length, 0);
  const destinations = await svix.messageAttempt.listAttemptedDestinations(app.uid, `evt-js.${run}`);
  assert.deepEqual(destinations.data.map((d) => d.id), [endpoint.id]);
  assert.equal(destinations.data[0].status, 0);

  // Bad input is a 422 naming the field; nothing is created.
  const invalid = await refusal(() => svix.application.create({ name: "", uid: "x" }));
  assert.equal(invalid.code, 422);
  assert.ok(Array.isArray(invalid.body.detail) && invalid.body.detail[0].loc.includes("name"));

  await svix.endpoint.delete(app.id, endpoint.id);
  await svix.application.delete(app.id);
  const gone = await refusal(() => svix.application.get(app.id));
  assert.equal(gone.code, 404);
  Object.assign(summary, { ok: true, app: app.id, message: message.id, deliveries: hook.received.length });
} finally {
  hook.server.close();
}
console.log(JSON.stringify(summary));
