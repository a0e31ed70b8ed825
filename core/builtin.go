package core

// Alphanumeric is the alphabet of generated secrets and codes.
const Alphanumeric = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func f64(v float64) *float64 { return &v }

// IDField is the primary key every collection has: 15 lowercase letters
// and digits, generated when not given.
func IDField() Field {
	return Field{ID: "text3208210256", Name: "id", Type: FieldText, System: true, Required: true,
		PrimaryKey: true, Min: f64(15), Max: f64(15), Pattern: "^[a-z0-9]+$", AutogeneratePattern: "[a-z0-9]{15}"}
}

// AutodateFields are the created and updated dates new collections get.
func AutodateFields() []Field {
	return []Field{
		{ID: "autodate2990389176", Name: "created", Type: FieldAutodate, OnCreate: true},
		{ID: "autodate3332085495", Name: "updated", Type: FieldAutodate, OnCreate: true, OnUpdate: true},
	}
}
