// Package deepcopy copies plain data values (structs, pointers, slices, maps, interfaces,
// strings, numbers) so that the copy shares no mutable memory with the original. It is the
// one deep copy of Kargo: of stacks (stack.Defaulted) and of Swarm specs (the Applier and
// the fake engine).
//
// Unlike a JSON round trip it cannot fail, keeps nil and empty apart, keeps fields JSON
// leaves out and accepts any number (NaN included). Unexported fields (such as those of
// time.Time) are copied as values; channels and functions are shared.
package deepcopy

import "reflect"

// Of returns a deep copy of v.
func Of[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	return value(rv).Interface().(T)
}

func value(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(value(v.Elem()))
		return out
	case reflect.Interface:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(value(v.Elem()))
		return out
	case reflect.Slice:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(value(v.Index(i)))
		}
		return out
	case reflect.Array:
		out := reflect.New(v.Type()).Elem()
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(value(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out.SetMapIndex(iter.Key(), value(iter.Value()))
		}
		return out
	case reflect.Struct:
		// The struct as a value first (its unexported fields included), then a deep copy
		// of every field that can be set.
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if out.Field(i).CanSet() {
				out.Field(i).Set(value(v.Field(i)))
			}
		}
		return out
	default:
		return v
	}
}
