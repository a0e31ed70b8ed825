package admin

// settingsRoutes registers the settings pages.
func (a *Admin) settingsRoutes() {}
