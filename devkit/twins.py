"""A command-line client of the TwinService (gRPC :50053): ``python -m devkit.twins --help``.

Admin commands (and any with --admin) send TWINWEAR_ADMIN_TOKEN (default: the local development
admin token), the others TWINWEAR_API_TOKEN (default: the development API token); --brand sends
x-twinwear-brand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from devkit.local_services import DEV_ADMIN_TOKEN, api_token
from devkit.topic_reader import TopicReader
from twinwear.v1 import events_pb2, twin_service_pb2_grpc, twins_pb2
from twinwear.v1 import twin_service_pb2 as pb
from twinwear_contracts.topics import RENDER_REQUESTS
from twinwear_runtime.events import EventRegistry, unwrap

TWIN_GRPC = os.environ.get("TWINWEAR_TWIN_GRPC", "127.0.0.1:50053")
ADMIN_COMMANDS = {"talent", "grant", "revoke", "history", "export", "delete"}


def _show(message: Message) -> None:
    print(json.dumps(MessageToDict(message, preserving_proto_field_name=True), indent=1))


def _measurements(args: argparse.Namespace) -> events_pb2.BodyMeasurements:
    return events_pb2.BodyMeasurements(
        stature_cm=args.stature,
        chest_girth_cm=args.chest,
        waist_girth_cm=args.waist,
        hip_girth_cm=args.hip,
        inside_leg_cm=args.inside_leg,
        shoulder_width_cm=args.shoulder,
    )


def _twin_line(twin: twins_pb2.Twin) -> str:
    worst = max(twin.residuals_mm.values(), default=0.0, key=abs)
    return (
        f"{twin.twin_id}  v{twin.twin_version}  {twin.kind:<9} {twin.brand or '-':<14} {twin.sex:<6} "
        f"{twin.age_years:>2}y  size {twin.size_label:<4} tone {twin.appearance.monk_skin_tone:>2}  "
        f"{twin.appearance.hairstyle or '-':<13} worst residual {worst:+.1f} mm"
    )


def planned_renders(
    look_id: str, seconds: float, topic: str = RENDER_REQUESTS.name
) -> list[events_pb2.RenderRequested | events_pb2.RenderCancelled]:
    """The render requests (and cancellations) of a look so far, as render sees them: what an
    end-to-end check should expect in the feed for that look."""
    registry = EventRegistry(RENDER_REQUESTS.events)
    reader = TopicReader(topic, from_beginning=True)
    try:
        return [
            unwrap(record.value, registry)[1]
            for record in reader.records(seconds)
            if record.key == look_id.encode() and record.value is not None
        ]
    finally:
        reader.close()


def planned(look_id: str, seconds: float, topic: str) -> None:
    for event in planned_renders(look_id, seconds, topic):
        if isinstance(event, events_pb2.RenderCancelled):
            print(f"cancelled at version {event.product_version}: {event.reason}")
            continue
        twin = event.twin
        print(
            f"{twin.twin_id}  v{twin.twin_version}  {twin.kind:<9} wears {event.size_label:<4} "
            f"tone {twin.monk_skin_tone:>2}  pose {event.pose:<13} channels {','.join(event.channels)}  "
            f"markets {','.join(event.markets) or '(product)'}  consent {twin.consent_id or '-'}"
        )


def run(args: argparse.Namespace, stub: twin_service_pb2_grpc.TwinServiceStub, metadata: Sequence) -> None:
    call = {"metadata": metadata, "timeout": 120}
    match args.command:
        case "talent":
            request = pb.CreateTwinRequest(
                kind="talent",
                sex=args.sex,
                age_years=args.age,
                measurements=_measurements(args),
                appearance=events_pb2.Appearance(monk_skin_tone=args.tone, hairstyle=args.hair),
                talent=twins_pb2.Talent(display_name=args.name, contact=args.contact),
            )
            print(_twin_line(stub.CreateTwin(request, **call).twin))
        case "grant":
            grant = twins_pb2.ConsentGrant(
                twin_id=args.twin_id,
                brand=args.licence_brand,
                channels=args.channels.split(","),
                markets=args.markets.split(","),
                start_date=args.start,
                end_date=args.end,
                fee_per_image_minor=args.fee,
                currency=args.currency,
            )
            _show(stub.GrantConsent(pb.GrantConsentRequest(grant=grant), **call))
        case "revoke":
            request = pb.RevokeConsentRequest(twin_id=args.twin_id, consent_id=args.consent_id, reason=args.reason)
            _show(stub.RevokeConsent(request, **call))
        case "history":
            for r in stub.ListConsentHistory(pb.ListConsentHistoryRequest(twin_id=args.twin_id), **call).records:
                print(f"{r.recorded_at}  {r.action:<8} {r.brand:<14} by {r.actor:<12} {r.consent_id} {r.reason}")
        case "roster":
            reply = stub.GenerateRoster(
                pb.GenerateRosterRequest(brand=args.roster_brand, count=args.count, seed=args.seed), **call
            )
            print(reply.coverage)
            print(f"{len(reply.twins)} twins, {reply.queued} being fitted in the background")
        case "list":
            for twin in stub.ListTwins(pb.ListTwinsRequest(kind=args.kind), **call).twins:
                print(_twin_line(twin))
        case "get":
            _show(stub.GetTwin(pb.GetTwinRequest(twin_id=args.twin_id), **call).twin)
        case "mesh":
            reply = stub.GetTwinMesh(pb.GetTwinMeshRequest(twin_id=args.twin_id, pose=args.pose), **call)
            Path(args.out).write_bytes(reply.glb)
            print(f"{args.out}: {len(reply.glb)} bytes, pose {reply.pose}, twin version {reply.twin_version}")
        case "export":
            reply = stub.ExportTwin(pb.ExportTwinRequest(twin_id=args.twin_id), **call)
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / "twin.glb").write_bytes(reply.glb)
            document = MessageToDict(reply, preserving_proto_field_name=True)
            document.pop("glb", None)
            (out / "twin.json").write_text(json.dumps(document, indent=1))
            print(f"{out}/twin.json and {out}/twin.glb")
        case "delete":
            _show(stub.DeleteTwin(pb.DeleteTwinRequest(twin_id=args.twin_id), **call))
        case "avatar":
            request = pb.CreateAvatarRequest(sex=args.sex, age_years=args.age, measurements=_measurements(args))
            print(_twin_line(stub.CreateAvatar(request, **call).twin))
        case "size":
            request = pb.RecommendSizeRequest(twin_id=args.twin_id, look_id=args.look, garment_type=args.garment)
            _show(stub.RecommendSize(request, **call))
        case "delete-avatar":
            _show(stub.DeleteAvatar(pb.DeleteAvatarRequest(twin_id=args.twin_id), **call))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devkit.twins", description=__doc__)
    parser.add_argument("--target", default=TWIN_GRPC)
    parser.add_argument("--brand", help="call scoped to this brand (x-twinwear-brand)")
    parser.add_argument("--admin", action="store_true", help="send the admin token (always for admin commands)")
    commands = parser.add_subparsers(dest="command", required=True)

    def body(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--sex", choices=("female", "male"), required=True)
        sub.add_argument("--age", type=int, required=True)
        for name in ("stature", "chest", "waist", "hip", "inside-leg", "shoulder"):
            sub.add_argument(f"--{name}", type=float, required=True, help="cm")

    talent = commands.add_parser("talent", help="create a talent twin from measurements (admin)")
    talent.add_argument("--name", required=True)
    talent.add_argument("--contact", default="")
    talent.add_argument("--tone", type=int, required=True, help="Monk skin tone 1..10")
    talent.add_argument("--hair", required=True, help="hairstyle, e.g. bob, curly-afro, buzz")
    body(talent)
    grant = commands.add_parser("grant", help="grant a brand consent to a talent twin (admin)")
    grant.add_argument("twin_id")
    grant.add_argument("--licence-brand", required=True)
    grant.add_argument("--channels", default="ecommerce")
    grant.add_argument("--markets", required=True, help="ISO 3166-1 alpha-2, comma-separated")
    grant.add_argument("--start", default="")
    grant.add_argument("--end", required=True)
    grant.add_argument("--fee", type=int, default=0, help="per published image, minor units")
    grant.add_argument("--currency", default="EUR")
    revoke = commands.add_parser("revoke", help="revoke a grant (admin)")
    revoke.add_argument("twin_id")
    revoke.add_argument("consent_id")
    revoke.add_argument("--reason", default="")
    for name, text in (
        ("history", "a twin's consent history (admin)"),
        ("get", "one twin"),
        ("delete", "erase a twin (admin)"),
        ("delete-avatar", "delete a shopper's avatar"),
    ):
        commands.add_parser(name, help=text).add_argument("twin_id")
    roster = commands.add_parser("roster", help="generate a diverse synthetic roster for a brand")
    roster.add_argument("--roster-brand", required=True)
    roster.add_argument("--count", type=int, default=40)
    roster.add_argument("--seed", default="default")
    commands.add_parser("list", help="the twins the caller may see").add_argument("--kind", default="")
    mesh = commands.add_parser("mesh", help="a twin's mesh in a pose, as GLB")
    mesh.add_argument("twin_id")
    mesh.add_argument("--pose", default="front")
    mesh.add_argument("--out", default="twin.glb")
    export = commands.add_parser("export", help="everything a talent owns (admin)")
    export.add_argument("twin_id")
    export.add_argument("--out", default="twin-export")
    body(commands.add_parser("avatar", help="a shopper's avatar from measurements"))
    size = commands.add_parser("size", help="the size an avatar should buy of a look")
    size.add_argument("twin_id")
    size.add_argument("--look", required=True)
    size.add_argument("--garment", default="")
    look = commands.add_parser("planned", help="the renders planned for a look (render-request topic)")
    look.add_argument("look_id")
    look.add_argument("--seconds", type=float, default=5.0)
    look.add_argument("--topic", default=RENDER_REQUESTS.name)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "planned":
        planned(args.look_id, args.seconds, args.topic)
        return
    admin = args.admin or args.command in ADMIN_COMMANDS
    token = os.environ.get("TWINWEAR_ADMIN_TOKEN", DEV_ADMIN_TOKEN) if admin else api_token()
    metadata = [("authorization", f"Bearer {token}")]
    brand = args.brand or (args.roster_brand if args.command == "roster" else None)
    if brand:
        metadata.append(("x-twinwear-brand", brand))
    with grpc.insecure_channel(args.target) as channel:
        try:
            run(args, twin_service_pb2_grpc.TwinServiceStub(channel), metadata)
        except grpc.RpcError as error:
            sys.exit(f"{error.code().name}: {error.details()}")


if __name__ == "__main__":
    main()
