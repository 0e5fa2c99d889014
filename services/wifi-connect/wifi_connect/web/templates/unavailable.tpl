% rebase('base', title='WiFi setup', heading='WiFi setup is busy', head=f'<meta http-equiv="refresh" content="{retry_seconds}">')
<div class="alert" role="status">The device is starting up or busy for a moment. This page tries again by itself in {{retry_seconds}} seconds.</div>
<p><a href="/">Try again now</a></p>
