"""Attachments, the pure rules: who may upload and fetch, what a message may
reference, names made safe, signed URLs, the settings, and old events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands import attachments, errors, signed_urls
from commands.attachments import AttachmentState, clean_name, fold, referenced
from commands.handler import CommandHandler
from commands.model import Actor, ConversationState, Role, SendMessage, StartConversation
from events.attachment_events import AttachmentUploaded, ImageChecked
from events.catalogue import Attachment, Channel, Client, MessageSent, MessageType, Side, Status
from events.envelope import NewEvent
from parley.attachment_settings import AttachmentSettings
from parley.settings import Settings, SettingsError
from tests.fakes.memory_store import MemoryEventStore

CID, OTHER_CID, AID = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
ADMIN = Actor(id="alice", role=Role.ADMIN)
CAROL = Actor(id="carol", role=Role.CLIENT, client_id="c-1")
MALLORY = Actor(id="mallory", role=Role.CLIENT, client_id="c-2")
OPEN = ConversationState(conversation_id=CID, client_id="c-1")
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
KEY = signed_urls.signing_key("a-secret-that-is-at-least-32-bytes-long")


def uploaded(mime: str = "image/png", conversation: uuid.UUID = CID) -> AttachmentUploaded:
    return AttachmentUploaded(
        attachment_id=AID,
        conversation_id=conversation,
        uploader_id="carol",
        uploader_side=Side.CLIENT,
        sha256="ab" * 32,
        size=2048,
        mime_type=mime,
        name="parcel.png",
    )


def message(**attachment: object) -> SendMessage:
    return SendMessage(
        conversation_id=CID,
        content="here it is",
        message_type=MessageType.IMAGE,
        attachment=Attachment(**attachment),  # type: ignore[arg-type]
    )


# -- the upload's state -------------------------------------------------------------


def test_an_image_is_checking_until_checked_then_ready_or_rejected() -> None:
    assert fold([]).uploaded is None
    assert fold([uploaded()]).status == "checking"
    good = ImageChecked(attachment_id=AID, conversation_id=CID, width=2, height=1)
    assert fold([uploaded(), good]).status == "ready"
    bad = ImageChecked(attachment_id=AID, conversation_id=CID, problem="does not decode")
    assert (fold([uploaded(), bad]).status, fold([uploaded(), bad]).problem) == (
        "rejected",
        "does not decode",
    )
    assert fold([uploaded("application/pdf")]).status == "ready"


# -- who may upload and fetch -------------------------------------------------------


def test_the_owner_and_staff_may_upload_to_an_open_conversation() -> None:
    attachments.require_upload(OPEN, CAROL)
    attachments.require_upload(OPEN, ADMIN)


@pytest.mark.parametrize(
    ("conversation", "actor", "error"),
    [
        (ConversationState(), CAROL, errors.ConversationNotFound),
        (OPEN, MALLORY, errors.Forbidden),
        (msgspec.structs.replace(OPEN, deleted=True), CAROL, errors.ConversationDeleted),
        (msgspec.structs.replace(OPEN, status=Status.CLOSED), CAROL, errors.ConversationClosed),
        (msgspec.structs.replace(OPEN, merged_into=OTHER_CID), ADMIN, errors.ConversationWasMerged),
    ],
    ids=["unknown", "another-client", "deleted", "closed", "merged"],
)
def test_an_upload_is_refused_where_a_message_would_be(
    conversation: ConversationState, actor: Actor, error: type[errors.DomainError]
) -> None:
    with pytest.raises(error):
        attachments.require_upload(conversation, actor)


def test_a_file_is_fetched_by_those_who_see_its_conversation_only() -> None:
    state = fold([uploaded()])
    attachments.require_download(state, "c-1", CAROL)
    attachments.require_download(state, "c-1", ADMIN)
    with pytest.raises(errors.Forbidden):
        attachments.require_download(state, "c-1", MALLORY)
    with pytest.raises(errors.AttachmentNotFound):
        attachments.require_download(AttachmentState(), "c-1", ADMIN)


# -- a message's reference ----------------------------------------------------------


def test_a_reference_takes_the_uploads_name_type_and_size_whatever_is_claimed() -> None:
    claimed = message(attachment_id=AID, name="invoice.exe", mime_type="text/html", size=1)
    resolved = referenced(fold([uploaded()]), claimed)
    assert resolved.attachment == Attachment(
        attachment_id=AID, name="parcel.png", mime_type="image/png", size=2048
    )


def test_a_reference_to_another_conversations_upload_is_as_if_there_were_none() -> None:
    with pytest.raises(errors.AttachmentNotFound):
        referenced(fold([uploaded(conversation=OTHER_CID)]), message(attachment_id=AID))
    with pytest.raises(errors.AttachmentNotFound):
        referenced(AttachmentState(), message(attachment_id=AID))


def test_a_reference_needs_the_right_message_type() -> None:
    pdf = fold([uploaded("application/pdf")])
    with pytest.raises(errors.InvalidCommand, match="an image message needs an image"):
        referenced(pdf, message(attachment_id=AID))
    as_text = msgspec.structs.replace(message(attachment_id=AID), message_type=MessageType.TEXT)
    with pytest.raises(errors.InvalidCommand, match="of type image or file"):
        referenced(pdf, as_text)
    as_file = msgspec.structs.replace(message(attachment_id=AID), message_type=MessageType.FILE)
    assert referenced(pdf, as_file).attachment is not None


def test_a_rejected_image_cannot_be_sent() -> None:
    bad = ImageChecked(attachment_id=AID, conversation_id=CID, problem="broken")
    with pytest.raises(errors.CorruptAttachment):
        referenced(fold([uploaded(), bad]), message(attachment_id=AID))


def test_a_url_attachment_still_works_and_one_needs_a_url_or_an_id_not_both() -> None:
    by_url = message(url="https://example.com/a.png")
    assert referenced(AttachmentState(), by_url) == by_url
    with pytest.raises(errors.InvalidCommand, match="needs an attachment_id"):
        referenced(AttachmentState(), message())
    with pytest.raises(errors.InvalidCommand, match="not both"):
        referenced(AttachmentState(), message(url="https://x.test/a", attachment_id=AID))


def test_an_old_stored_message_with_a_url_reads_as_it_always_did() -> None:
    old = (
        b'{"type":"MessageSent","conversation_id":"%s","message_id":"%s","seq":1,'
        b'"sender":"client","sender_id":"c-1","message_type":"image","content":"x",'
        b'"attachment":{"url":"https://cdn.example/p.png","name":"p.png","size":3}}'
    ) % (str(CID).encode(), str(uuid.uuid4()).encode())
    event = msgspec.json.decode(old, type=MessageSent)
    assert event.attachment == Attachment(url="https://cdn.example/p.png", name="p.png", size=3)


# -- names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_name", "kept"),
    [
        ("photo.png", "photo.png"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\scan.pdf", "scan.pdf"),
        ("bad\x00\x1bname\n.txt", "badname.txt"),
        ("   ", "attachment.png"),
        (None, "attachment.png"),
    ],
)
def test_a_file_name_is_made_safe(given_name: str | None, kept: str) -> None:
    assert clean_name(given_name, "image/png") == kept


@given(st.text(max_size=500))
def test_any_file_name_becomes_a_storable_name(name: str) -> None:
    cleaned = clean_name(name, "application/pdf")
    assert 1 <= len(cleaned) <= attachments.MAX_NAME
    assert cleaned.strip() == cleaned and "/" not in cleaned and "\x00" not in cleaned
    assert cleaned == clean_name(cleaned, "application/pdf")


# -- signed URLs --------------------------------------------------------------------


def test_a_signed_url_works_until_it_expires() -> None:
    signed = signed_urls.sign(KEY, AID, "content", now=NOW, lifetime=300)
    assert signed.expires_at == NOW + timedelta(seconds=300)
    expires = int(signed.expires_at.timestamp())
    sig = signed.url.split("sig=")[1]
    assert signed.url == f"/api/attachments/{AID}/content?expires={expires}&sig={sig}"
    signed_urls.verify(KEY, AID, "content", expires, sig, now=NOW + timedelta(seconds=299))
    with pytest.raises(errors.UrlExpired):
        signed_urls.verify(KEY, AID, "content", expires, sig, now=NOW + timedelta(seconds=300))


@pytest.mark.parametrize("change", ["id", "variant", "expires", "key", "sig"])
def test_a_url_changed_in_any_part_is_refused(change: str) -> None:
    signed = signed_urls.sign(KEY, AID, "content", now=NOW, lifetime=300)
    expires, sig = int(signed.expires_at.timestamp()), signed.url.split("sig=")[1]
    key, aid, variant = KEY, AID, "content"
    if change == "id":
        aid = uuid.uuid4()
    elif change == "variant":
        variant = "thumbnail"
    elif change == "expires":
        expires += 3600
    elif change == "key":
        key = signed_urls.signing_key("another-secret-that-is-32-bytes-long!!")
    else:
        sig = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    with pytest.raises(errors.SignatureInvalid):
        signed_urls.verify(key, aid, variant, expires, sig, now=NOW)  # type: ignore[arg-type]


# -- settings -----------------------------------------------------------------------


def test_the_attachment_settings_default_to_25_mib_on_the_filesystem() -> None:
    config = Settings.from_env({}).attachments
    assert config == AttachmentSettings()
    assert (config.max_bytes, config.url_seconds, config.blob_store) == (
        26_214_400,
        300.0,
        "filesystem",
    )


def test_the_attachment_settings_read_the_environment() -> None:
    config = Settings.from_env(
        {
            "PARLEY_ATTACHMENT_MAX_BYTES": "1048576",
            "PARLEY_ATTACHMENT_URL_SECONDS": "60",
            "PARLEY_BLOB_STORE": "S3",
            "PARLEY_S3_BUCKET": "parley-files",
            "PARLEY_S3_ENDPOINT_URL": "http://minio:9000",
        }
    ).attachments
    assert (config.max_bytes, config.url_seconds, config.blob_store) == (1048576, 60.0, "s3")
    assert (config.s3_bucket, config.s3_endpoint_url) == ("parley-files", "http://minio:9000")


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"PARLEY_ATTACHMENT_MAX_BYTES": "0"}, "PARLEY_ATTACHMENT_MAX_BYTES"),
        ({"PARLEY_ATTACHMENT_MAX_BYTES": "25MB"}, "PARLEY_ATTACHMENT_MAX_BYTES"),
        ({"PARLEY_ATTACHMENT_URL_SECONDS": "0"}, "PARLEY_ATTACHMENT_URL_SECONDS"),
        ({"PARLEY_BLOB_STORE": "ftp"}, "PARLEY_BLOB_STORE"),
        ({"PARLEY_BLOB_STORE": "s3"}, "PARLEY_S3_BUCKET"),
        ({"PARLEY_S3_ENDPOINT_URL": "minio:9000"}, "PARLEY_S3_ENDPOINT_URL"),
    ],
)
def test_a_bad_attachment_setting_names_its_variable(variables: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(variables)
    assert refused.value.name == named


# -- through the command handler (HTTP and WebSocket alike) ------------------------


async def test_the_command_handler_makes_a_messages_upload_whole_or_refuses_it() -> None:
    store = MemoryEventStore()
    handler = CommandHandler(store)
    started = StartConversation(client=Client(id="c-1", name="Carol"), channel=Channel.WEB)
    cid = (await handler.handle(started, ADMIN)).conversation_id
    upload = msgspec.structs.replace(uploaded("application/pdf"), conversation_id=cid)
    await store.append(
        attachments.stream_id(AID), [NewEvent(event_id=uuid.uuid4(), data=upload)], 0
    )
    send = SendMessage(
        conversation_id=cid,
        content="my invoice",
        message_type=MessageType.FILE,
        attachment=Attachment(attachment_id=AID, name="other.exe"),
    )

    await handler.handle(send, CAROL)

    last = (await store.read_stream(f"conversation-{cid}"))[-1].data
    assert isinstance(last, MessageSent)
    assert last.attachment == Attachment(
        attachment_id=AID, name="parcel.png", mime_type="application/pdf", size=2048
    )
    elsewhere = msgspec.structs.replace(send, attachment=Attachment(attachment_id=uuid.uuid4()))
    with pytest.raises(errors.AttachmentNotFound):
        await handler.handle(elsewhere, CAROL)
