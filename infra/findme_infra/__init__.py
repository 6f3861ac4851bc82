"""FindMe's AWS CDK app: one stack built from constructs per concern.

``stage.py`` reads the CDK context; ``storage``, ``tables``, ``secrets``, ``functions``,
``workflows`` and ``api`` each build one concern; ``stack.FindMeStack`` wires them;
``nag`` holds every acknowledged cdk-nag finding with its reason.
"""
