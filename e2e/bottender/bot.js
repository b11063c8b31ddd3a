// An echo bot for the Messenger Platform, written as any bottender bot is,
// pointed at OpenTeller instead of Facebook's Graph API by `origin`.
// e2e/messenger_test.go runs it against the openteller binary.
//
// Environment: PORT, ORIGIN (the platform's base URL), ACCESS_TOKEN (the
// institution's API key), VERIFY_TOKEN. The app secret (the webhook
// endpoint's secret) is only known once the endpoint is registered, and
// registering needs this bot to answer the hub.challenge: so bottender
// answers the handshake first, and the test then writes the secret on
// standard input; deliveries wait for it, and are verified with it by
// bottender (X-Hub-Signature). Every Send API call carries the
// appsecret_proof bottender computes with it.
'use strict';

const http = require('http');
const readline = require('readline');
const { MessengerBot } = require('bottender');
const { createServer } = require('@bottender/express');

const path = '/webhooks/messenger';
const { PORT, ORIGIN, ACCESS_TOKEN, VERIFY_TOKEN } = process.env;

function echo(context) {
  const { event } = context;
  console.log(`bot: event text=${JSON.stringify(event.text || null)} payload=${JSON.stringify(event.payload || null)} standby=${event.isStandby}`);
  if (event.isQuickReply) {
    return context.sendText(`you tapped ${event.quickReply.payload}`);
  }
  if (event.isPostback) {
    return context.sendText(`postback ${event.postback.payload}`);
  }
  if (event.isText) {
    return (async () => {
      await context.typingOn();
      await context.sendText(`echo: ${event.text}`, {
        quickReplies: [{ contentType: 'text', title: 'Again', payload: 'AGAIN' }],
      });
    })();
  }
  return undefined;
}

function bot(appSecret) {
  const b = new MessengerBot({ accessToken: ACCESS_TOKEN, appSecret, verifyToken: VERIFY_TOKEN, origin: ORIGIN });
  b.onEvent(echo);
  return createServer(b, { path, verifyToken: VERIFY_TOKEN });
}

// Before the secret: a bot whose secret nobody has, which only answers the
// handshake (a GET; its signature check is never reached).
const handshake = bot('not-yet-known');
let live = null;
let ready;
const secretKnown = new Promise((resolve) => { ready = resolve; });

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const secret = line.trim();
  if (secret && !live) {
    live = bot(secret);
    console.log('bot: app secret received');
    ready();
  }
});

http.createServer(async (req, res) => {
  if (req.method === 'GET') {
    handshake(req, res);
    return;
  }
  await secretKnown;
  live(req, res);
}).listen(Number(PORT), '127.0.0.1', () => console.log(`bot: listening on ${PORT}`));
