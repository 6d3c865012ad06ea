package rest

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"google.golang.org/protobuf/reflect/protoreflect"
	"mig"

	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// router is what routes registers on: an echo instance or a group.
type router interface {
	GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	HEAD(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// read registers a read route for GET and HEAD: HEAD is GET without the
// body (net/http drops it), through the same access rules and audit.
func read(r router, path string, h echo.HandlerFunc) {
	r.GET(path, h)
	r.HEAD(path, h)
}

func (s *Server) routes(e *echo.Echo) {
	read(e, "/fhir/metadata", s.metadata)
	read(e, "/fhir/.well-known/smart-configuration", s.smartConfiguration)
	read(e, "/fhir/OperationDefinition/:id", s.operationDefinition)
	read(e, "/", s.home)

	s.launchRoutes(e)

	f := e.Group("/fhir", s.authenticate, s.admit, s.launchContext, s.limitBody)
	// The one write.
	f.POST("/Consent", s.recordConsent)
	// Auditors.
	read(f, "/AuditEvent/$export", s.auditExport)
	read(f, "/AuditEvent/$export-status/:job", s.auditExportStatus)
	read(f, "/AuditEvent/$export-file/:job", s.auditExportFile)
	// Who has looked at a patient's record: the patient's practice (a
	// type-level operation; its static segment outranks /:type/:id).
	read(f, "/Patient/$mig-access-report", s.accessReport)
	// Patient operations ($summary's static segment outranks :op).
	read(f, "/Patient/:id/$summary", s.summary)
	read(f, "/Patient/:id/:op", s.operation)
	// Searches and reads of every type.
	read(f, "/:type", s.search)
	f.POST("/:type/_search", s.search)
	read(f, "/:type/:id", s.read)
	// Writes are refused: MIG is read-only.
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		f.Add(m, "/:type", s.refuseWrite)
		f.Add(m, "/:type/:id", s.refuseWrite)
	}

	a := e.Group("/admin", s.authenticate, s.admit, s.limitBody)
	read(a, "/agreements", s.adminListAgreements)
	a.POST("/agreements", s.adminAddAgreement)
	a.POST("/agreements/$import", s.adminImportAgreements)
	read(a, "/agreements/$export", s.adminExportAgreements)
	read(a, "/agreements/:id", s.adminGetAgreement)
	read(a, "/agreements/:id/_history", s.adminAgreementHistory)
	a.POST("/agreements/:id/$suspend", s.adminSetStatus)
	a.POST("/agreements/:id/$end", s.adminSetStatus)
	a.POST("/agreements/:id/$activate", s.adminSetStatus)
}

// refuseOptions answers OPTIONS with 405 on every path: the gateway serves
// no CORS (browsers reach it through the viewer's backend), and echo would
// otherwise answer a preflight 204 with an Allow list. Audited like any
// refusal.
func (s *Server) refuseOptions(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method != http.MethodOptions {
			return next(c)
		}
		c.Response().Header().Set("Allow", "GET, HEAD, POST")
		return s.refuse(c, s.newRequest(c, "", ""), "request", &mig.Error{Code: mig.ENOTALLOWED, Issue: mig.IssueNotImplemented,
			Message: "OPTIONS is not served: the gateway serves no CORS; use GET, HEAD or POST as GET /fhir/metadata says"})
	}
}

// limitBody caps request bodies.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().ContentLength > s.MaxBodyBytes {
			r := s.newRequest(c, "", "")
			return s.refuse(c, r, "request", tooLarge(s.MaxBodyBytes))
		}
		c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, s.MaxBodyBytes)
		return next(c)
	}
}

// home points people at the API.
func (s *Server) home(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{
		"service":  "MIG - Medical Interoperability Gateway",
		"fhirBase": s.Base,
		"metadata": s.Base + "/metadata",
	})
}

// markEmergency labels a resource as released under emergency access
// (meta.security v3-ActCode BTG, "break the glass").
func markEmergency(cr *bcrpb.ContainedResource) {
	m := cr.ProtoReflect()
	oneof := m.Descriptor().Oneofs().ByName("oneof_resource")
	if oneof == nil {
		return
	}
	fd := m.WhichOneof(oneof)
	if fd == nil {
		return
	}
	res := m.Get(fd).Message()
	metaFd := res.Descriptor().Fields().ByName(protoreflect.Name("meta"))
	if metaFd == nil {
		return
	}
	meta, ok := res.Mutable(metaFd).Message().Interface().(*dtpb.Meta)
	if !ok {
		return
	}
	for _, sec := range meta.Security {
		if sec.GetCode().GetValue() == "BTG" {
			return
		}
	}
	meta.Security = append(meta.Security, &dtpb.Coding{
		System:  &dtpb.Uri{Value: "http://terminology.hl7.org/CodeSystem/v3-ActCode"},
		Code:    &dtpb.Code{Value: "BTG"},
		Display: &dtpb.String{Value: "break the glass"},
	})
}
