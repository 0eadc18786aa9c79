"""The baseline: a bare aio-pika forwarder with no checks, doing what the gateway's transport does —
consume, publish with a broker confirm, ack — and nothing else.

    python -m bench.bare_forwarder AMQP_URL IN_QUEUE OUT_QUEUE PREFETCH
"""

from __future__ import annotations

import asyncio
import sys

import aio_pika


async def main(url: str, source: str, target: str, prefetch: int) -> None:
    connection = await aio_pika.connect_robust(url)
    consume_channel = await connection.channel()
    await consume_channel.set_qos(prefetch_count=prefetch)
    publish_channel = await connection.channel(publisher_confirms=True)
    queue = await consume_channel.declare_queue(source, durable=True)
    await publish_channel.declare_queue(target, durable=True)

    async def forward(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await publish_channel.default_exchange.publish(
            aio_pika.Message(body=message.body, message_id=message.message_id, headers=message.headers,
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=target)
        await message.ack()

    await queue.consume(forward)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
