% rebase('base', title=portal_ssid, heading=t('connecting.heading', ssid=attempt['ssid']), lang=lang)
<div id="attempt-status" role="status" aria-live="polite" data-attempt="{{attempt['id']}}"
data-msg-connected="{{t('js.connected', ssid='{ssid}')}}" data-msg-reach="{{t('js.reach', where='{where}')}}"
data-msg-left="{{t('js.left')}}">
% if phone_stays:
<p>{{t('connecting.joining', ssid=attempt['ssid'])}} <strong>{{t('connecting.phone_stays')}}</strong></p>
% else:
<p>{{t('connecting.joining', ssid=attempt['ssid'])}} <strong>{{t('connecting.phone_leaves', portal_ssid=portal_ssid)}}</strong></p>
% end
</div>
<ul class="steps">
<li>{{t('connecting.done', ssid=attempt['ssid'])}}</li>
% if where:
<li id="reach">{{t('connecting.reach', where=where)}}</li>
% end
% if not phone_stays:
<li>{{t('connecting.comes_back', portal_ssid=portal_ssid)}}</li>
% end
</ul>
<p><a href="/">{{t('connecting.back')}}</a></p>
