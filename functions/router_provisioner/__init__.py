"""The router provisioner: the only code that talks to MikroTik routers (librouteros), deployed as
a VPC Lambda beside the routers' VPN. Entry points: ``handler.handle`` (provisioning queue) and
``handler.health_check`` (every minute). Depends on boto3 and librouteros only."""
