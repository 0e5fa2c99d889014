% rebase('base', title=portal_ssid, heading=t('page.heading'), lang=lang)
% def invalid(field):
%   return ' aria-invalid="true" aria-describedby="form-error"' if error_field == field else ''
% end
% if error:
<div class="alert error" role="alert" id="form-error"><strong>{{t('form.check')}}</strong> {{error}}</div>
% elif notice:
<div class="alert" role="alert">{{notice}}</div>
% elif failure:
<div class="alert error" role="alert" id="last-attempt">
<strong>{{t('failure.could_not', ssid=failure['ssid'])}}</strong> {{failure['text']}} {{t('failure.try_again')}}
</div>
% end
<form method="post" action="/join" id="connect-form">
<fieldset>
<legend>{{t('networks.legend')}}</legend>
<ul class="networks">
% for index, network in enumerate(networks, 1):
<li><label class="network">
<input type="radio" name="ssid" value="{{network['ssid']}}" data-security="{{network['security']}}"
aria-labelledby="n{{index}}" aria-describedby="d{{index}}"{{!' checked' if network['ssid'] == selected else ''}} required>
<span class="name" id="n{{index}}">{{network['ssid']}}</span>
<span class="bars b{{network['bars']}}" aria-hidden="true"><i></i><i></i><i></i><i></i></span>
%   if network['security'] != 'none':
<svg class="lock" aria-hidden="true" viewBox="0 0 16 16" width="14" height="14"><path d="M4 7V5a4 4 0 0 1 8 0v2h1v8H3V7zm2 0h4V5a2 2 0 0 0-4 0z"/></svg>
%   end
<span class="sr" id="d{{index}}">{{network['words']}}</span>
</label></li>
% end
% if not networks:
<li class="empty">{{t('networks.empty')}}</li>
% end
<li><label class="network">
<input type="radio" name="ssid" value="" data-security="other" id="other"{{!' checked' if selected == '' else ''}} required>
<span class="name">{{t('networks.other')}}</span></label></li>
</ul>
</fieldset>
<div class="field" id="other-field">
<label for="other_ssid">{{t('field.other_ssid')}}</label>
<input id="other_ssid" name="other_ssid" maxlength="64" autocomplete="off" autocapitalize="none" spellcheck="false" value="{{other_ssid}}">
</div>
<div class="field" id="security-field">
<label for="security">{{t('field.security')}}</label>
<select id="security" name="security"{{!invalid('security')}}>
% for value, words in security_choices:
<option value="{{value}}"{{!' selected' if value == security else ''}}>{{words}}</option>
% end
</select>
</div>
<div class="field" id="identity-field">
<label for="identity">{{t('field.identity')}}</label>
<input id="identity" name="identity" maxlength="256" autocomplete="username" autocapitalize="none" spellcheck="false" value="{{identity}}"{{!invalid('identity')}}>
</div>
<div class="field" id="passphrase-field">
<label for="passphrase">{{t('field.passphrase')}}</label>
<input id="passphrase" name="passphrase" type="password" maxlength="256" autocomplete="current-password"{{!invalid('passphrase')}}>
<label class="show js-only"><input type="checkbox" id="show-passphrase"> {{t('field.show_password')}}</label>
</div>
<button type="submit">{{t('button.connect')}}</button>
</form>
<form method="post" action="/scan" class="rescan">
<button type="submit" class="secondary">{{t('button.rescan')}}</button>
</form>
<p class="hint">{{t('hint.phone_stays') if phone_stays else t('hint.phone_leaves', portal_ssid=portal_ssid)}}</p>
