// Starts Next's standalone server (server.js in the folder given, or beside this file) with
// one change: X-Forwarded-For is set to the address that connected to us before Next sees
// the request. Next only sets that header when it is missing, so without this a browser
// could send its own and choose the address the API's login limits count.
// Behind a reverse proxy of your own that sets the header itself, start with
// KEEP_FORWARDED_FOR=true: the connecting address is then appended, as proxies do, and the
// API reads the list from the right, skipping the proxies named in TRUSTED_PROXIES.
import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const keep = /^(1|true|yes)$/i.test(process.env.KEEP_FORWARDED_FOR ?? "");

const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, ...args) {
  if (event === "request") {
    const request = args[0];
    const peer = request.socket?.remoteAddress;
    const prior = request.headers["x-forwarded-for"];
    if (peer) {
      request.headers["x-forwarded-for"] = keep && prior ? `${prior}, ${peer}` : peer;
    } else {
      delete request.headers["x-forwarded-for"];
    }
  }
  return emit.call(this, event, ...args);
};

const folder = path.resolve(process.argv[2] ?? path.dirname(fileURLToPath(import.meta.url)));
await import(pathToFileURL(path.join(folder, "server.js")).href);
