// Run every server audit of the `graphql-http` package (the GraphQL-over-HTTP spec's reference
// implementation) against one GraphQL endpoint and print the results as JSON on stdout:
//
//   [{"id": "22EB", "name": "SHOULD ...", "status": "ok" | "notice" | "warn" | "error",
//     "reason": "...", "response": {"status": 200, "contentType": "...", "body": "..."}}, ...]
//
// Usage: node graphql_http_audit.mjs URL MODULES_DIR
//   URL          the endpoint, e.g. http://127.0.0.1:8000/graphql
//   MODULES_DIR  a directory whose node_modules holds graphql-http and graphql
//   FOOTAGE_AUDIT_API_KEY (environment, optional) is sent as `Authorization: Bearer <key>` on
//   every request, so the audits reach the GraphQL layer instead of stopping at the 401.
//
// Exit status: 0 when the audits ran (whatever they found), 2 on bad usage, 1 when the audits
// could not run at all. Judging the results is the caller's business.

import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const REQUEST_TIMEOUT_MS = 10_000;
const BODY_EXCERPT = 500;

function usage(message) {
  process.stderr.write(`${message}\nusage: node graphql_http_audit.mjs URL MODULES_DIR\n`);
  process.exit(2);
}

const [url, modulesDir] = process.argv.slice(2);
if (!url || !modulesDir) {
  usage("missing arguments");
}
try {
  new URL(url);
} catch {
  usage(`not a URL: ${url}`);
}

// The package is resolved from MODULES_DIR (a cache outside this directory), through its own
// `exports` map; ES modules ignore NODE_PATH, a CommonJS require from there does not need it.
const requireFrom = createRequire(join(resolve(modulesDir), "package.json"));
const { serverAudits } = requireFrom("graphql-http");

const apiKey = process.env.FOOTAGE_AUDIT_API_KEY;

/** `fetch` with the API key added and a time limit on every request. */
function authenticatedFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  if (apiKey) {
    headers.set("authorization", `Bearer ${apiKey}`);
  }
  return fetch(input, { ...init, headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

async function describe(response) {
  if (!response) {
    return undefined;
  }
  let body;
  try {
    body = response.bodyUsed ? undefined : (await response.text()).slice(0, BODY_EXCERPT);
  } catch {
    body = undefined;
  }
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body,
  };
}

async function run(audit) {
  try {
    const result = await audit.fn();
    if (result.status === "ok") {
      return { id: result.id, name: result.name, status: "ok" };
    }
    return {
      id: result.id,
      name: result.name,
      status: result.status,
      reason: result.reason,
      response: await describe(result.response),
    };
  } catch (error) {
    // graphql-http throws anything that is not a failed assertion (a refused connection, a
    // timeout, a body that is not JSON where JSON is required): the audit could not pass.
    return {
      id: audit.id,
      name: audit.name,
      status: "error",
      reason: `audit aborted: ${error?.message ?? String(error)}`,
    };
  }
}

try {
  const results = [];
  // One at a time: the server under audit is a single test process, and the order of the
  // output then follows graphql-http's own list.
  for (const audit of serverAudits({ url, fetchFn: authenticatedFetch })) {
    results.push(await run(audit));
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} catch (error) {
  process.stderr.write(`graphql-http audits could not run: ${error?.stack ?? error}\n`);
  process.exit(1);
}
