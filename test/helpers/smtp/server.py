"""A real SMTP server for the email-channel tests (aiosmtpd), on 127.0.0.1 only.

Each accepted message is written to OUT_DIR as <n>.json (envelope, decoded headers and text, raw), atomically
(written aside, then renamed), so a test reading the folder never sees half a message.
  --user U --password P   require AUTH (PLAIN/LOGIN, allowed without TLS: a loopback test server)
  --refuse-rcpt PREFIX    answer 550 at RCPT for addresses starting with PREFIX
Prints "PORT <n>" on stdout once listening; runs until killed.
"""
import argparse
import asyncio
import itertools
import json
import os
from email import message_from_bytes, policy

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, out_dir, refuse_prefix):
        self.out_dir = out_dir
        self.refuse_prefix = refuse_prefix
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_prefix and address.startswith(self.refuse_prefix):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        # Decoded by Python's own email parser (encoded words, quoted-printable, charsets), so the
        # test checks what a mail client would show, independently of the sender's encoding.
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        record = {
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "headers": {k.lower(): str(v) for k, v in parsed.items()},
            "subject": str(parsed["subject"]),
            "contentType": parsed.get_content_type(),
            "text": body.get_content() if body is not None else None,
            "raw": envelope.original_content.decode("utf-8", "replace"),
        }
        final = os.path.join(self.out_dir, "%d.json" % n)
        with open(final + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(final + ".tmp", final)
        return "250 Message accepted for delivery"


def authenticator_for(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    return authenticate


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--refuse-rcpt")
    args = parser.parse_args()
    handler = Handler(args.out_dir, args.refuse_rcpt)
    kwargs = {}
    if args.user is not None:
        kwargs = dict(authenticator=authenticator_for(args.user, args.password or ""), auth_required=True, auth_require_tls=False)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="mlops-test-smtp", **kwargs), host="127.0.0.1", port=0)
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
