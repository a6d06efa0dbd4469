"""REST: the interaction callback and the interaction webhooks (@original, followups)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import events
from .errors import DiscordError, invalid_form_body
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    PING,
    PONG,
    UPDATE_MESSAGE,
    EmulatedInteraction,
    SentModal,
    interaction_message_fields,
)
from .messages import (
    EPHEMERAL,
    LOADING,
    SETTABLE_FLAGS,
    check_message_body,
    create_message,
    delete_message,
    edit_message,
)
from .models import Channel
from .rest import Reply, RestRequest, on_rejected, route
from .spec import FieldError

if TYPE_CHECKING:
    from .emulator import DiscordEmulator

ALLOWED_CALLBACKS = {
    PING: {PONG},
    APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL, 12},
    MESSAGE_COMPONENT: {
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        DEFERRED_UPDATE,
        UPDATE_MESSAGE,
        MODAL,
        12,
    },
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
}


def _interaction(emu: DiscordEmulator, req: RestRequest) -> EmulatedInteraction | None:
    ix = emu.interactions.get(req.param("interaction_id"))
    if ix is None or ix.token != req.params["interaction_token"]:
        return None
    return ix


@on_rejected("POST", "/interactions/{interaction_id}/{interaction_token}/callback")
def _callback_rejected(emu: DiscordEmulator, req: RestRequest, err: DiscordError) -> None:
    ix = _interaction(emu, req)
    if ix is not None:
        ix.rejected.append(f"{err.status} {err.message} ({err.code}): {err.detail}")


def _channel(emu: DiscordEmulator, ix: EmulatedInteraction) -> Channel:
    return emu.world.channels[ix.channel_id]


def _command_name(ix: EmulatedInteraction) -> str | None:
    data = ix.payload.get("data") or {}
    return data.get("name") if ix.type == APPLICATION_COMMAND else None


@route("POST", "/interactions/{interaction_id}/{interaction_token}/callback")
async def interaction_callback(emu: DiscordEmulator, req: RestRequest) -> Reply:
    ix = _interaction(emu, req)
    if ix is None:
        raise DiscordError(404, 10062, "Unknown interaction", violation="unknown_interaction")
    elapsed = emu.clock.monotonic() - ix.dispatched_at
    if ix.callback is not None:
        raise DiscordError(
            400,
            40060,
            "Interaction has already been acknowledged.",
            violation="double_ack",
            detail=f"second callback (type {req.body.get('type')}) for interaction {ix.id}",
        )
    if ix.expired or elapsed > emu.callback_deadline:
        ix.expired = True
        raise DiscordError(
            404,
            10062,
            "Unknown interaction",
            violation="late_callback",
            detail=f"callback {elapsed:.2f}s after dispatch (deadline {emu.callback_deadline}s)",
        )
    ctype = int(req.body["type"])
    allowed = set(ALLOWED_CALLBACKS.get(ix.type, set()))
    if ix.type == MODAL_SUBMIT and ix.source_message_id is None:
        allowed -= {DEFERRED_UPDATE, UPDATE_MESSAGE}
    if ctype not in allowed:
        raise invalid_form_body(
            [
                FieldError(
                    ("type",),
                    "INTERACTION_RESPONSE_TYPE_INVALID",
                    f"callback type {ctype} is not valid for interaction type {ix.type} "
                    f"(allowed: {sorted(allowed)})",
                )
            ],
            "invalid_callback_type",
        )
    data: dict[str, Any] = req.body.get("data") or {}
    channel = _channel(emu, ix)
    message: dict[str, Any] | None = None
    event: str | None = None
    if ctype == CHANNEL_MESSAGE:
        check_message_body(data, req.uploads, creating=True)
        message = create_message(
            emu.world,
            channel,
            data,
            req.uploads,
            author_id=emu.bot_user_id,
            message_type=20 if ix.type == APPLICATION_COMMAND else 0,
            allowed_flags=SETTABLE_FLAGS | EPHEMERAL,
            extra=interaction_message_fields(ix, _command_name(ix)),
        )
        ix.original_message_id, event = int(message["id"]), "MESSAGE_CREATE"
    elif ctype == DEFERRED_CHANNEL_MESSAGE:
        message = create_message(
            emu.world,
            channel,
            {},
            [],
            author_id=emu.bot_user_id,
            message_type=20 if ix.type == APPLICATION_COMMAND else 0,
            extra_flags=LOADING | ((data.get("flags") or 0) & EPHEMERAL),
            extra=interaction_message_fields(ix, _command_name(ix)),
        )
        ix.original_message_id, event = int(message["id"]), "MESSAGE_CREATE"
    elif ctype in (DEFERRED_UPDATE, UPDATE_MESSAGE):
        ix.original_message_id = ix.source_message_id
        ix.edits_at_ack = emu.world.edit_counts.get(ix.source_message_id or 0, 0)
        if ctype == UPDATE_MESSAGE:
            check_message_body(data, req.uploads, creating=False)
            message = emu.world.messages[ix.source_message_id or 0]
            edit_message(emu.world, message, data, req.uploads)
            event = "MESSAGE_UPDATE"
    elif ctype == AUTOCOMPLETE_RESULT:
        ix.choices = list(data.get("choices") or [])
    elif ctype == MODAL:
        emu.modals.append(SentModal(data["custom_id"], data["title"], list(data["components"]), ix))
    ix.callback = req.body
    ix.callback_files = list(req.uploads)
    ix.acked_after = elapsed
    if message is not None:
        emu.note_message_source(message, data)
        await events.message_event(emu, event or "MESSAGE_CREATE", message)
    if not req.flag("with_response"):
        return Reply(status=204)
    return Reply(body=_callback_response(ix, ctype, message))


def _callback_response(
    ix: EmulatedInteraction, ctype: int, message: dict[str, Any] | None
) -> dict[str, Any]:
    info: dict[str, Any] = {"id": str(ix.id), "type": ix.type}
    if ix.original_message_id is not None and ctype in (
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        UPDATE_MESSAGE,
    ):
        info["response_message_id"] = str(ix.original_message_id)
        info["response_message_loading"] = ctype == DEFERRED_CHANNEL_MESSAGE
        info["response_message_ephemeral"] = bool(message and message["flags"] & EPHEMERAL)
    body: dict[str, Any] = {"interaction": info}
    if message is not None and ctype in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
        body["resource"] = {"type": ctype, "message": message}
    return body


# ---------------------------------------------------------------------- webhooks


def _interaction_for(emu: DiscordEmulator, req: RestRequest, *, what: str) -> EmulatedInteraction:
    if req.param("webhook_id") != emu.application_id:
        emu.note_unhandled(req.method, req.path, "only interaction webhooks are emulated")
        raise DiscordError(404, 10015, "Unknown Webhook")
    ix = emu.interactions_by_token.get(req.params["webhook_token"])
    if ix is None:
        raise DiscordError(
            404,
            10015,
            "Unknown Webhook",
            violation="unknown_webhook",
            detail=f"{what}: no interaction has this token",
        )
    if ix.token_expired:
        raise DiscordError(
            401,
            50027,
            "Invalid Webhook Token",
            violation="expired_token",
            detail=f"{what}: interaction {ix.id} is older than 15 minutes",
        )
    if ix.callback is None:
        kind = "late_callback_followup" if ix.expired else "webhook_before_ack"
        raise DiscordError(
            404,
            10015,
            "Unknown Webhook",
            violation=kind,
            detail=f"{what} for interaction {ix.id}, which was never acknowledged",
        )
    return ix


def _owned_message(
    emu: DiscordEmulator, ix: EmulatedInteraction, message_id: str
) -> dict[str, Any]:
    if message_id == "@original":
        target = ix.original_message_id
    else:
        target = int(message_id) if message_id.isdigit() else None
        if target not in {ix.original_message_id, *ix.followup_ids}:
            target = None
    message = emu.world.messages.get(target or 0)
    if message is None:
        raise DiscordError(404, 10008, "Unknown Message")
    return message


async def _message_op(emu: DiscordEmulator, req: RestRequest, message_id: str) -> Reply:
    ix = _interaction_for(emu, req, what=f"{req.method} message {message_id}")
    message = _owned_message(emu, ix, message_id)
    if req.method == "GET":
        return Reply(body=message)
    if req.method == "DELETE":
        delete_message(emu.world, int(message["id"]))
        await events.message_event(emu, "MESSAGE_DELETE", message)
        return Reply(status=204)
    check_message_body(req.body, req.uploads, creating=False)
    edit_message(emu.world, message, req.body, req.uploads)
    emu.note_message_source(message, req.body)
    await events.message_event(emu, "MESSAGE_UPDATE", message)
    return Reply(body=message)


for _method in ("GET", "PATCH", "DELETE"):
    route(_method, "/webhooks/{webhook_id}/{webhook_token}/messages/@original")(
        lambda emu, req: _message_op(emu, req, "@original")
    )
    route(_method, "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")(
        lambda emu, req: _message_op(emu, req, req.params["message_id"])
    )


@route("POST", "/webhooks/{webhook_id}/{webhook_token}")
async def followup(emu: DiscordEmulator, req: RestRequest) -> Reply:
    ix = _interaction_for(emu, req, what="followup")
    check_message_body(req.body, req.uploads, creating=True)
    original = emu.world.messages.get(ix.original_message_id or 0)
    if (
        ix.callback_type == DEFERRED_CHANNEL_MESSAGE
        and original is not None
        and original["flags"] & LOADING
    ):
        # The first followup after a "thinking" deferral replaces the loading message.
        message = edit_message(emu.world, original, req.body, req.uploads)
        ix.followup_ids.append(int(message["id"]))
        event = "MESSAGE_UPDATE"
    else:
        message = create_message(
            emu.world,
            _channel(emu, ix),
            req.body,
            req.uploads,
            author_id=emu.bot_user_id,
            allowed_flags=SETTABLE_FLAGS | EPHEMERAL,
            extra=interaction_message_fields(ix, _command_name(ix)),
        )
        ix.followup_ids.append(int(message["id"]))
        event = "MESSAGE_CREATE"
    emu.note_message_source(message, req.body)
    await events.message_event(emu, event, message)
    return Reply(body=message) if req.flag("wait") else Reply(status=204)
