// Reads POST /api/chat exactly as the browser does: the AI SDK's own DefaultChatTransport
// sends the request and validates every chunk, readUIMessageStream assembles the message.
//
// Usage: CHAT_URL=... CHAT_TOKEN=... CHAT_BODY='{"scoutId":..,"location":..,"messages":[..]}'
//        node consume.mjs
// Prints {"message": <final UIMessage or null>, "error": <text or null>} as JSON.
import { DefaultChatTransport, readUIMessageStream } from 'ai';

const { CHAT_URL: url, CHAT_TOKEN: token, CHAT_BODY: rawBody } = process.env;
if (!url || !token || !rawBody) {
  console.error('CHAT_URL, CHAT_TOKEN and CHAT_BODY must be set');
  process.exit(2);
}
const { messages, ...extraBody } = JSON.parse(rawBody);

const transport = new DefaultChatTransport({
  api: url,
  headers: { Authorization: `Bearer ${token}` },
  body: extraBody,
});

let message = null;
let error = null;
try {
  const stream = await transport.sendMessages({
    chatId: 'chat_consumer',
    messages,
    trigger: 'submit-message',
    messageId: undefined,
    abortSignal: undefined,
  });
  const snapshots = readUIMessageStream({
    stream,
    terminateOnError: true,
    onError: (e) => { error = String(e?.message ?? e); },
  });
  for await (const snapshot of snapshots) {
    message = snapshot;
  }
} catch (e) {
  error = String(e?.message ?? e);
}
process.stdout.write(JSON.stringify({ message, error }) + '\n');
