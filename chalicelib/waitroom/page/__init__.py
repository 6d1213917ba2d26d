"""The waiting page the crowd sees (``GET /wait/{event}``): one light, self-contained HTML
response (CSS and JS inlined, no CDN), server-rendered so it works without JavaScript, in English
and Swahili. ``routes`` (the page and its two JSON calls), ``render`` (HTML), ``theme``
(organiser colours with enforced contrast), ``strings`` (the two languages)."""
