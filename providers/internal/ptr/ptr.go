// Package ptr holds the pointer helpers the input types need: optional properties are
// pointers, nil meaning "not set by the program".
package ptr

// To returns a pointer to a copy of v.
func To[T any](v T) *T { return &v }

// Deref gives *v, or T's zero value when v is nil.
func Deref[T any](v *T) T {
	if v == nil {
		var zero T
		return zero
	}
	return *v
}

// SetDefault points *field at value when *field is nil (an unset optional property).
func SetDefault[T any](field **T, value T) {
	if *field == nil {
		*field = &value
	}
}
