package deepcopy_test

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/kalisio/kargo/internal/deepcopy"
)

type inner struct {
	Tags  []string
	Empty []string
	Nil   []string
}

type outer struct {
	Name  string
	Ptr   *inner
	Map   map[string]*inner
	Any   any
	Arr   [2][]int
	When  time.Time
	Ratio float64
	Skip  string `json:"-"`
}

func TestOfSharesNothingAndKeepsEverything(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	orig := outer{Name: "a", Ptr: &inner{Tags: []string{"x"}, Empty: []string{}},
		Map: map[string]*inner{"k": {Tags: []string{"y"}}}, Any: []int{1}, Arr: [2][]int{{1}, {2}},
		When: when, Ratio: math.NaN(), Skip: "kept"}
	c := deepcopy.Of(orig)

	if c.Name != "a" || c.Skip != "kept" || !c.When.Equal(when) || !math.IsNaN(c.Ratio) {
		t.Fatalf("copy lost values: %+v", c)
	}
	if c.Ptr.Empty == nil || c.Ptr.Nil != nil {
		t.Errorf("nil and empty slices not kept apart: %#v", c.Ptr)
	}
	c.Ptr.Tags[0] = "changed"
	c.Map["k"].Tags[0] = "changed"
	c.Any.([]int)[0] = 9
	c.Arr[0][0] = 9
	if orig.Ptr.Tags[0] != "x" || orig.Map["k"].Tags[0] != "y" || orig.Any.([]int)[0] != 1 || orig.Arr[0][0] != 1 {
		t.Errorf("the copy shares memory with the original: %+v", orig)
	}
	if !reflect.DeepEqual(deepcopy.Of((*outer)(nil)), (*outer)(nil)) {
		t.Error("a nil pointer is not copied as nil")
	}
}
