"""A workaround for aiokafka, applied once by every module that makes Kafka clients: a client
that bootstrapped from a broker in shutdown never learns of a broker again.

A KRaft broker in controlled shutdown leaves itself out of the brokers it lists. A client whose
bootstrap gets such an answer stores the empty broker list and keeps the bootstrap connection
as its only way to ask again; when the broker then closes that connection, the client drops it
and has no node left to ask. Every metadata update logs `Unable to update metadata from []`
and returns, for ever: an idempotent producer's start loops on `Cannot send
InitProducerIdRequest to None`, a consumer never finds its coordinator. A chaos run's pusher,
started as the broker restarted, did this for 17 minutes (aio-libs/aiokafka#267 is the same
loop). The worker's Faust clients bootstrap the same way.

Fix: a metadata update that has no broker and no bootstrap connection to ask bootstraps again
from the configured servers first, as the client did at its start.
"""

import logging

from aiokafka.client import AIOKafkaClient, ConnectionGroup
from aiokafka.errors import KafkaConnectionError

log = logging.getLogger(__name__)
_BOOTSTRAP = ("bootstrap", ConnectionGroup.DEFAULT)
_ORIGINAL_METADATA_UPDATE = AIOKafkaClient._metadata_update


def has_no_node_to_ask(client: AIOKafkaClient) -> bool:
    """Whether `client` knows no broker and holds no bootstrap connection (see the module)."""
    return not client.cluster.brokers() and _BOOTSTRAP not in client._conns


async def _metadata_update_bootstrapping_again(self: AIOKafkaClient, cluster_metadata, topics):
    if cluster_metadata is self.cluster and has_no_node_to_ask(self):
        # Once per episode: while the broker is down this runs at every retry.
        if not self.__dict__.get("newsflow_rebootstrapping"):
            log.warning("Kafka client %s knows no broker to ask for metadata: bootstrapping again from %s",
                        self._client_id, self._bootstrap_servers)
        self.__dict__["newsflow_rebootstrapping"] = True
        try:
            await self.bootstrap()
        except KafkaConnectionError:
            pass  # bootstrap logged why; the update below fails as it did, and is retried
    updated = await _ORIGINAL_METADATA_UPDATE(self, cluster_metadata, topics)
    if updated:
        self.__dict__["newsflow_rebootstrapping"] = False
    return updated


def apply() -> None:
    if AIOKafkaClient._metadata_update is _ORIGINAL_METADATA_UPDATE:
        AIOKafkaClient._metadata_update = _metadata_update_bootstrapping_again
