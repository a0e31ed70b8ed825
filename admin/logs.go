package admin

// logRoutes registers the logs pages.
func (a *Admin) logRoutes() {}
