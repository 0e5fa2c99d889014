% rebase('base', title=portal_ssid, heading=f'Connecting to “{attempt["ssid"]}”…')
<div id="attempt-status" role="status" aria-live="polite" data-attempt="{{attempt['id']}}">
<p>The device is joining “{{attempt['ssid']}}”. <strong>Your phone will now drop off the “{{portal_ssid}}” network</strong>; that is expected.</p>
</div>
<ul class="steps">
<li>If the device joins “{{attempt['ssid']}}”, you are done: you can close this page.</li>
<li>If it cannot, the “{{portal_ssid}}” network comes back within a few seconds. Join it again and this page will tell you what went wrong, so you can try again.</li>
</ul>
<p><a href="/">Back to the network list</a></p>
