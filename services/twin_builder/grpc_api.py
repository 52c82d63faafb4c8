# ruff: noqa: N802 - the servicer's method names are the generated gRPC names
"""gRPC ``twinwear.v1.TwinService`` over :mod:`services.twin_builder.commands`: a bad field gets
INVALID_ARGUMENT naming it (and its accepted range), an unknown id NOT_FOUND, a missing admin token
or brand scope PERMISSION_DENIED naming it, Kafka down UNAVAILABLE. Calls need the metadata
``authorization: Bearer <token>`` (an API or an admin token); ``x-twinwear-brand`` scopes a call
to one brand."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import grpc
import structlog

from services.twin_builder.commands import Caller, NotFound, PermissionDenied, TwinCommands
from services.twin_builder.consent import ConsentEntry, InvalidRequest
from twinwear.v1 import twin_service_pb2 as pb
from twinwear.v1 import twin_service_pb2_grpc
from twinwear_runtime.auth import AdminTokens, ApiOrAdminTokens
from twinwear_runtime.faults import as_unavailable
from twinwear_runtime.grpc_server import authorization_of, start_grpc_server

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["TwinService"].full_name
BRAND_METADATA = "x-twinwear-brand"
# A GLB of a posed body is a few MiB at most.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
log = structlog.get_logger()

P = ParamSpec("P")
R = TypeVar("R")


def _answering_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Domain errors become the status codes the service promises."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        context = args[2]
        assert isinstance(context, grpc.ServicerContext)
        try:
            return method(*args, **kwargs)
        except InvalidRequest as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except NotFound as error:
            context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except PermissionDenied as error:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
        except Exception as error:
            if (unavailable := as_unavailable(error)) is not None:
                context.abort(grpc.StatusCode.UNAVAILABLE, f"{unavailable.dependency} is unavailable, try again later")
            log.exception("call failed")
            context.abort(grpc.StatusCode.INTERNAL, "unexpected error, reported")
        raise AssertionError("abort returns only by raising")

    return wrapper


def _record(entry: ConsentEntry) -> pb.ConsentRecord:
    return pb.ConsentRecord(
        event_id=entry.event_id,
        action=entry.action,
        consent_id=entry.consent_id,
        brand=entry.brand,
        actor=entry.actor,
        recorded_at=entry.recorded_at,
        grant=entry.grant.to_proto() if entry.grant else None,
        reason=entry.reason,
    )


class TwinServicer(twin_service_pb2_grpc.TwinServiceServicer):
    def __init__(self, commands: TwinCommands, admins: AdminTokens) -> None:
        self._commands = commands
        self._admins = admins

    def _caller(self, context: grpc.ServicerContext) -> Caller:
        brand = dict(context.invocation_metadata() or ()).get(BRAND_METADATA)
        return Caller(admin=self._admins.holder(authorization_of(context)), brand=brand or None)

    @_answering_errors
    def CreateTwin(self, request: pb.CreateTwinRequest, context: grpc.ServicerContext) -> pb.CreateTwinResponse:
        twin = self._commands.create_twin(
            self._caller(context),
            kind=request.kind,
            brand=request.brand,
            sex=request.sex,
            age_years=request.age_years,
            measurements=request.measurements,
            appearance=request.appearance,
            talent=request.talent,
            twin_id=request.twin_id,
        )
        return pb.CreateTwinResponse(twin=twin)

    @_answering_errors
    def GetTwin(self, request: pb.GetTwinRequest, context: grpc.ServicerContext) -> pb.GetTwinResponse:
        return pb.GetTwinResponse(twin=self._commands.get_twin(self._caller(context), request.twin_id))

    @_answering_errors
    def ListTwins(self, request: pb.ListTwinsRequest, context: grpc.ServicerContext) -> pb.ListTwinsResponse:
        return pb.ListTwinsResponse(twins=self._commands.list_twins(self._caller(context), request.kind))

    @_answering_errors
    def DeleteTwin(self, request: pb.DeleteTwinRequest, context: grpc.ServicerContext) -> pb.DeleteTwinResponse:
        event_id = self._commands.delete_twin(self._caller(context), request.twin_id)
        return pb.DeleteTwinResponse(twin_id=request.twin_id, event_id=event_id)

    @_answering_errors
    def ExportTwin(self, request: pb.ExportTwinRequest, context: grpc.ServicerContext) -> pb.ExportTwinResponse:
        twin, glb, history = self._commands.export_twin(self._caller(context), request.twin_id, request.pose)
        return pb.ExportTwinResponse(twin=twin, glb=glb, consent_history=[_record(e) for e in history])

    @_answering_errors
    def FitTwin(self, request: pb.FitTwinRequest, context: grpc.ServicerContext) -> pb.FitTwinResponse:
        twin = self._commands.fit_twin(self._caller(context), request.twin_id, request.measurements)
        return pb.FitTwinResponse(twin=twin)

    @_answering_errors
    def GetTwinMesh(self, request: pb.GetTwinMeshRequest, context: grpc.ServicerContext) -> pb.GetTwinMeshResponse:
        glb, twin, pose = self._commands.mesh(self._caller(context), request.twin_id, request.pose)
        return pb.GetTwinMeshResponse(
            glb=glb, content_type="model/gltf-binary", pose=pose, twin_version=twin.twin_version
        )

    @_answering_errors
    def GenerateRoster(
        self, request: pb.GenerateRosterRequest, context: grpc.ServicerContext
    ) -> pb.GenerateRosterResponse:
        twins, queued, coverage = self._commands.generate_roster(
            self._caller(context), request.brand, request.count, request.seed
        )
        return pb.GenerateRosterResponse(twins=twins, queued=queued, coverage=coverage)

    @_answering_errors
    def GrantConsent(self, request: pb.GrantConsentRequest, context: grpc.ServicerContext) -> pb.GrantConsentResponse:
        grant, status, event_id = self._commands.grant(self._caller(context), request.grant)
        return pb.GrantConsentResponse(grant=grant, status=status, event_id=event_id)

    @_answering_errors
    def RevokeConsent(
        self, request: pb.RevokeConsentRequest, context: grpc.ServicerContext
    ) -> pb.RevokeConsentResponse:
        grant, status, event_id = self._commands.revoke(
            self._caller(context), request.twin_id, request.consent_id, request.reason
        )
        return pb.RevokeConsentResponse(grant=grant, status=status, event_id=event_id)

    @_answering_errors
    def ListConsentHistory(
        self, request: pb.ListConsentHistoryRequest, context: grpc.ServicerContext
    ) -> pb.ListConsentHistoryResponse:
        history = self._commands.history(self._caller(context), request.twin_id)
        return pb.ListConsentHistoryResponse(records=[_record(e) for e in history])

    @_answering_errors
    def CreateAvatar(self, request: pb.CreateAvatarRequest, context: grpc.ServicerContext) -> pb.CreateAvatarResponse:
        twin = self._commands.create_avatar(
            self._caller(context), request.sex, request.age_years, request.measurements, request.request_id
        )
        return pb.CreateAvatarResponse(twin=twin)

    @_answering_errors
    def DeleteAvatar(self, request: pb.DeleteAvatarRequest, context: grpc.ServicerContext) -> pb.DeleteAvatarResponse:
        event_id = self._commands.delete_avatar(self._caller(context), request.twin_id)
        return pb.DeleteAvatarResponse(twin_id=request.twin_id, event_id=event_id)

    @_answering_errors
    def RecommendSize(
        self, request: pb.RecommendSizeRequest, context: grpc.ServicerContext
    ) -> pb.RecommendSizeResponse:
        advice, garment = self._commands.recommend_size(
            self._caller(context), request.twin_id, request.look_id, request.size_chart, request.garment_type
        )
        return pb.RecommendSizeResponse(
            size_label=advice.size_label,
            fit=advice.fit,
            confidence=advice.confidence,
            ease_cm=advice.ease_cm,
            garment_type=garment,
        )


def start_twin_api(
    commands: TwinCommands, tokens: ApiOrAdminTokens, port: int, host: str = "0.0.0.0", max_in_flight: int = 16
) -> grpc.Server:
    servicer = TwinServicer(commands, tokens.admin)
    return start_grpc_server(
        lambda server: twin_service_pb2_grpc.add_TwinServiceServicer_to_server(servicer, server),
        [SERVICE_NAME],
        tokens,
        port,
        host,
        max_in_flight,
        [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)],
    )
