package gp2gp

//go:generate go run ./internal/gen -out ../../testdata/A99901
