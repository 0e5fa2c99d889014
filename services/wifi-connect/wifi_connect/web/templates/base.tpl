<!doctype html>
<html lang="{{get('lang', 'en')}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<link rel="icon" href="data:,">
{{!get('head', '')}}
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<main>
<h1>{{heading}}</h1>
{{!base}}
</main>
</body>
</html>
