package network_test

import (
	"strconv"

	"testing"

	"github.com/onestack/onestack/internal/storetest"
)

func backendNames(t *testing.T) []string { return storetest.Backends(t) }

func strconvF(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
