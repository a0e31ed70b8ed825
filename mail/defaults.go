package mail

// defaults are the built-in templates, close in wording to PocketBase's.
var defaults = map[Kind]Template{
	KindVerification: {
		Subject: `Verify your {{.AppName}} email`,
		Text: `Hello,

Thank you for joining us at {{.AppName}}.

Open the link below to verify your email address:
{{.Link}}

Thanks,
{{.AppName}} team
`,
		HTML: `<p>Hello,</p>
<p>Thank you for joining us at {{.AppName}}.</p>
<p>Click on the button below to verify your email address.</p>
<p><a class="btn" href="{{.Link}}" target="_blank" rel="noopener">Verify</a></p>
<p>Thanks,<br/>{{.AppName}} team</p>
`,
	},
	KindPasswordReset: {
		Subject: `Reset your {{.AppName}} password`,
		Text: `Hello,

Open the link below to reset your password:
{{.Link}}

If you didn't ask to reset your password, you can ignore this email.

Thanks,
{{.AppName}} team
`,
		HTML: `<p>Hello,</p>
<p>Click on the button below to reset your password.</p>
<p><a class="btn" href="{{.Link}}" target="_blank" rel="noopener">Reset password</a></p>
<p><i>If you didn't ask to reset your password, you can ignore this email.</i></p>
<p>Thanks,<br/>{{.AppName}} team</p>
`,
	},
	KindEmailChange: {
		Subject: `Confirm your {{.AppName}} new email address`,
		Text: `Hello,

Open the link below to confirm your new email address ({{.Email}}):
{{.Link}}

If you didn't ask to change your email address, you can ignore this email.

Thanks,
{{.AppName}} team
`,
		HTML: `<p>Hello,</p>
<p>Click on the button below to confirm your new email address ({{.Email}}).</p>
<p><a class="btn" href="{{.Link}}" target="_blank" rel="noopener">Confirm new email</a></p>
<p><i>If you didn't ask to change your email address, you can ignore this email.</i></p>
<p>Thanks,<br/>{{.AppName}} team</p>
`,
	},
	KindOTP: {
		Subject: `OTP for {{.AppName}}`,
		Text: `Hello,

Your one-time password is: {{.OTP}}

If you didn't ask for the one-time password, you can ignore this email.

Thanks,
{{.AppName}} team
`,
		HTML: `<p>Hello,</p>
<p>Your one-time password is: <strong>{{.OTP}}</strong></p>
<p><i>If you didn't ask for the one-time password, you can ignore this email.</i></p>
<p>Thanks,<br/>{{.AppName}} team</p>
`,
	},
	KindLoginAlert: {
		Subject: `Login from a new location`,
		Text: `Hello,

We noticed a login to your {{.AppName}} account ({{.Email}}) from a new location.
{{- with index .Extra "Info"}}

{{.}}
{{- end}}

If this was you, you can ignore this email. If it wasn't, change your
password right away to revoke access from all other locations.

Thanks,
{{.AppName}} team
`,
		HTML: `<p>Hello,</p>
<p>We noticed a login to your {{.AppName}} account ({{.Email}}) from a new location.</p>
{{- with index .Extra "Info"}}
<p><em>{{.}}</em></p>
{{- end}}
<p><strong>If this wasn't you, change your password right away to revoke access from all other locations.</strong></p>
<p>If this was you, you can ignore this email.</p>
<p>Thanks,<br/>{{.AppName}} team</p>
`,
	},
}
