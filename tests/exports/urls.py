"""The site's URLs plus the exports page (until the site's URLs include it)."""

from django.urls import include, path

from config.urls import urlpatterns as site

urlpatterns = [path("", include("labeling.exports.pages")), *site]
