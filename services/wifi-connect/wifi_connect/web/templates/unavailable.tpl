% rebase('base', title=t('unavailable.title'), heading=t('unavailable.heading'), lang=lang, head=f'<meta http-equiv="refresh" content="{retry_seconds}">')
<div class="alert" role="status">{{t('unavailable.text', seconds=retry_seconds)}}</div>
<p><a href="/">{{t('unavailable.retry')}}</a></p>
