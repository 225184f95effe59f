// A local webhook receiver in Node: prints each callback and checks its Standard Webhooks
// signature.  npm install standardwebhooks && WEBHOOK_SECRET=whsec_... node examples/receiver.js 9000
const http = require("node:http");
const { Webhook } = require("standardwebhooks");

const webhook = new Webhook(process.env.WEBHOOK_SECRET);
const port = Number(process.argv[2] || 9000);

http
  .createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8"); // verify the exact bytes received
      try {
        const payload = webhook.verify(body, request.headers); // throws if forged or stale
        console.log(`verified ${request.headers["webhook-id"]}:`, JSON.stringify(payload));
        response.writeHead(204).end();
      } catch (error) {
        console.log("REJECTED (bad signature):", error.message);
        response.writeHead(400).end();
      }
    });
  })
  .listen(port, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${port}/`));
