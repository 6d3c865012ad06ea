package rest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"mig"
	"mig/consent"
)

// The admin API manages Information Sharing Agreements. Only configured
// admin users reach it (the chain's role rule); admins see no clinical data.
// Every change is a new version and is audited.

func (s *Server) adminStart(c echo.Context) (*consent.Request, error) {
	r := s.newRequest(c, consent.OpAgreementAdmin, "Agreement")
	if _, err := s.start(c, r); err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Server) adminJSON(c echo.Context, r *consent.Request, status int, v any) error {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return s.refuse(c, r, "request", &mig.Error{Code: mig.EINTERNAL, Message: "could not encode the answer", Err: err})
	}
	r.Released = map[string]int{}
	return s.release(c, r, status, "application/json", body)
}

func (s *Server) adminListAgreements(c echo.Context) error {
	r, err := s.adminStart(c)
	if err != nil {
		return done(err)
	}
	list, err := s.Agreements.List(c.Request().Context())
	if err != nil {
		return s.refuse(c, r, "agreement", &mig.Error{Code: mig.EUNAVAILABLE, Message: "agreements cannot be read", Err: err})
	}
	if list == nil {
		list = []*consent.Agreement{}
	}
	return s.adminJSON(c, r, http.StatusOK, list)
}

func (s *Server) adminGetAgreement(c echo.Context) error {
	r, err := s.adminStart(c)
	if err != nil {
		return done(err)
	}
	a, err := s.Agreements.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return s.refuse(c, r, "request", err)
	}
	r.AgreementID = a.ID
	return s.adminJSON(c, r, http.StatusOK, a)
}

func (s *Server) adminAgreementHistory(c echo.Context) error {
	r, err := s.adminStart(c)
	if err != nil {
		return done(err)
	}
	h, err := s.Agreements.History(c.Request().Context(), c.Param("id"))
	if err != nil {
		return s.refuse(c, r, "request", err)
	}
	r.AgreementID = c.Param("id")
	return s.adminJSON(c, r, http.StatusOK, h)
}

func (s *Server) adminAddAgreement(c echo.Context) error {
	r, err := s.adminStart(c)
	if err != nil {
		return done(err)
	}
	var a consent.Agreement
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return s.refuse(c, r, "request", invalidParam("the body must be one agreement as JSON (see README: agreements)"))
	}
	if err := consent.AddAgreement(c.Request().Context(), s.Agreements, &a, r.Principal.UserID, s.now()); err != nil {
		return s.refuse(c, r, "agreement", err)
	}
	r.AgreementID = a.ID
	return s.adminJSON(c, r, http.StatusCreated, &a)
}

func (s *Server) adminSetStatus(c echo.Context) error {
	r, err := s.adminStart(c)
	if err != nil {
		return done(err)
	}
	status := map[string]string{"$suspend": consent.AgreementSuspended, "$end": consent.AgreementEnded, "$activate": consent.AgreementActive}
	path := c.Request().URL.Path
	var st string
	for suffix, v := range status {
		if strings.HasSuffix(path, "/"+suffix) {
			st = v
		}
	}
	id := c.Param("id")
	r.AgreementID = id
	a, err := consent.SetStatus(c.Request().Context(), s.Agreements, id, st, r.Principal.UserID, s.now())
	if err != nil {
		return s.refuse(c, r, "agreement", err)
	}
	return s.adminJSON(c, r, http.StatusOK, a)
}

func (s *Server) adminImportAgreements(c echo.Context) error {
	r, err := s.adminStart(c)
	if err != nil {
		return done(err)
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return s.refuse(c, r, "request", tooLarge(s.MaxBodyBytes))
	}
	n, err := consent.ImportAgreements(c.Request().Context(), s.Agreements, bytes.NewReader(body), r.Principal.UserID, s.now())
	if err != nil {
		return s.refuse(c, r, "agreement", err)
	}
	return s.adminJSON(c, r, http.StatusOK, map[string]int{"imported": n})
}

func (s *Server) adminExportAgreements(c echo.Context) error {
	r, err := s.adminStart(c)
	if err != nil {
		return done(err)
	}
	var buf bytes.Buffer
	if err := consent.ExportAgreements(c.Request().Context(), s.Agreements, &buf); err != nil {
		return s.refuse(c, r, "agreement", err)
	}
	r.Released = map[string]int{}
	return s.release(c, r, http.StatusOK, "application/json", buf.Bytes())
}
