package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// smartIssuer reads "issuer" from a SMART configuration document.
func smartIssuer(ctx context.Context, u string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&doc) != nil || doc.Issuer == "" {
		return "", errors.New("no issuer in the SMART configuration")
	}
	return doc.Issuer, nil
}
